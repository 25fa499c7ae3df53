"""``referkit keys create|list|revoke``: the first key of a workspace comes from here."""

from __future__ import annotations

import asyncio
import json

import typer
from rich.table import Table

from referkit.auth.principal import Mode, Principal, Scope
from referkit.auth.service import AuthService
from referkit.cli.common import console, ensure_schema, settings_or_exit, unit_of_work
from referkit.config import Settings
from referkit.errors import ReferkitError
from referkit.kit.pagination import PageParams
from referkit.workspace.service import WorkspaceService

app = typer.Typer(help="API keys.", no_args_is_help=True, pretty_exceptions_enable=False)


async def issue(
    settings: Settings, workspace: str, scope: Scope, mode: Mode, name: str
) -> dict[str, str]:
    await ensure_schema(settings)
    async with unit_of_work(settings) as session:
        ws, _ = await WorkspaceService(session).get_or_create(workspace)
        issued = await AuthService(session).issue_key(ws.id, name=name, scope=scope, mode=mode)
    return {
        "workspace_id": ws.id,
        "key_id": issued.key.id,
        "public_key": issued.key.public_key,
        "secret": issued.secret,
    }


@app.command()
def create(
    workspace: str = typer.Option("Default", help="Workspace name; created if it does not exist."),
    scope: Scope = typer.Option(Scope.full, help="full, read_only or analytics."),
    mode: Mode = typer.Option(Mode.live, help="live or test."),
    name: str = typer.Option("CLI key", help="A label for the key."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Create an API key (and the workspace if needed). The secret is printed once."""
    settings = settings_or_exit()
    result = asyncio.run(issue(settings, workspace, scope, mode, name))
    if as_json:
        typer.echo(json.dumps(result))
        return
    console.print(f"Workspace  {result['workspace_id']} ({workspace})")
    console.print(f"Key        {result['key_id']} ({scope.value}, {mode.value})")
    console.print(f"Public key {result['public_key']}")
    console.print(f"Secret     [bold]{result['secret']}[/bold]  (shown only now)")


async def _workspace_keys(
    settings: Settings, workspace: str, mode: Mode
) -> list[tuple[str, str, str, str, str]]:
    await ensure_schema(settings)
    async with unit_of_work(settings) as session:
        ws, _ = await WorkspaceService(session).get_or_create(workspace)
        principal = Principal(ws.id, "cli", Scope.full, mode is Mode.live)
        keys, _meta = await AuthService(session).list_keys(
            principal, False, PageParams(limit=100, cursor_id=None, offset=None), mode=mode
        )
        return [
            (k.id, k.name, k.scope, k.secret_hint, str(k.last_used_at or "never")) for k in keys
        ]


@app.command("list")
def list_keys(
    workspace: str = typer.Option("Default", help="Workspace name."),
    mode: Mode = typer.Option(Mode.live, help="live or test."),
) -> None:
    """List a workspace's active keys."""
    settings = settings_or_exit()
    rows = asyncio.run(_workspace_keys(settings, workspace, mode))
    table = Table()
    # Ids are what `keys revoke` takes: never shorten or wrap them to fit a narrow terminal.
    table.add_column("id", no_wrap=True, min_width=max((len(row[0]) for row in rows), default=2))
    for header in ("name", "scope", "secret", "last used"):
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    console.print(table)


async def _revoke(settings: Settings, workspace: str, mode: Mode, key_id: str) -> None:
    await ensure_schema(settings)
    async with unit_of_work(settings) as session:
        ws, _ = await WorkspaceService(session).get_or_create(workspace)
        principal = Principal(ws.id, "cli", Scope.full, mode is Mode.live)
        await AuthService(session).revoke(principal, key_id)


@app.command()
def revoke(
    key_id: str,
    workspace: str = typer.Option("Default", help="Workspace name."),
    mode: Mode = typer.Option(Mode.live, help="live or test."),
) -> None:
    """Revoke a key; it stops working at once."""
    settings = settings_or_exit()
    try:
        asyncio.run(_revoke(settings, workspace, mode, key_id))
    except ReferkitError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    console.print(f"Revoked {key_id}")
