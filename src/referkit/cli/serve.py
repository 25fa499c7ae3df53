"""``referkit serve``: migrate an embedded database, optionally seed the demo, run uvicorn."""

from __future__ import annotations

import asyncio
import os

import typer
import uvicorn

from referkit.cli.common import console, ensure_schema, settings_or_exit
from referkit.cli.demo import seed_demo

_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}  # noqa: S104 (compared against, never bound)


def _local_base_url(host: str, port: int) -> str:
    """The URL this process answers on, for links and the banner when no base URL is set."""
    shown = "127.0.0.1" if host in _WILDCARD_HOSTS else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes (PostgreSQL for more than 1)."),
    demo: bool = typer.Option(False, "--demo", help="Seed a demo workspace and print its key."),
    access_log: bool = typer.Option(True, help="Log each request."),
) -> None:
    """Serve the API (SQLite databases are migrated on start)."""
    settings = settings_or_exit()
    if "base_url" not in settings.model_fields_set:
        # Without REFERKIT_BASE_URL, links must point at the host and port we actually listen
        # on. uvicorn builds the app in a fresh import (one per worker) that reads settings from
        # the environment, so the environment is how the value reaches it.
        os.environ["REFERKIT_BASE_URL"] = _local_base_url(host, port)
        settings = settings_or_exit()
    if workers > 1 and settings.is_sqlite:
        console.print("[yellow]Several workers on SQLite serialize writes; fine for trials.[/]")
    asyncio.run(ensure_schema(settings))
    base = settings.base_url
    lines = [
        f"API        {base}/api/v1",
        f"Docs       {base}/api/v1/docs  (ReDoc: {base}/api/v1/redoc)",
        f"Database   {settings.db_url}",
    ]
    if demo:
        key = asyncio.run(seed_demo(settings))
        lines += [
            "",
            f"Demo workspace {key['workspace_id']}",
            f"API key        {key['secret']}",
            f"Public key     {key['public_key']}",
            "",
            f"Dashboard      {base}/dashboard",
            f"  email        {key['dashboard_email']}",
            f"  password     {key['dashboard_password']}",
            "",
            f"Try: curl -H 'Authorization: Bearer {key['secret']}' {base}/api/v1/programs",
        ]
    # Plain lines on stdout, never wrapped or boxed, so the key and the curl line can be
    # copied (and parsed) as printed; diagnostics stay on the stderr console.
    typer.echo("\n".join(["Referkit", *lines]))
    uvicorn.run(
        "referkit.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        access_log=access_log,
        proxy_headers=False,
    )
