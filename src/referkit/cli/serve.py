"""``referkit serve``: migrate an embedded database, optionally seed the demo, run uvicorn."""

from __future__ import annotations

import asyncio

import typer
import uvicorn
from rich.panel import Panel

from referkit.cli.common import console, ensure_schema, settings_or_exit
from referkit.cli.demo import seed_demo


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes (PostgreSQL for more than 1)."),
    demo: bool = typer.Option(False, "--demo", help="Seed a demo workspace and print its key."),
    access_log: bool = typer.Option(True, help="Log each request."),
) -> None:
    """Serve the API (SQLite databases are migrated on start)."""
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
            f"Try: curl -H 'Authorization: Bearer {key['secret']}' {base}/api/v1/programs",
        ]
    console.print(Panel("\n".join(lines), title="Referkit", expand=False))
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
