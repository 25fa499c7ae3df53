"""``referkit users create|invite``: dashboard accounts and invitation links."""

from __future__ import annotations

import asyncio

import typer

from referkit.cli.common import console, ensure_schema, settings_or_exit, unit_of_work
from referkit.config import Settings
from referkit.dashboard.passwords import generate_password
from referkit.dashboard.service import Role, UserService
from referkit.errors import ReferkitError
from referkit.workspace.service import WorkspaceService

app = typer.Typer(help="Dashboard users.", no_args_is_help=True, pretty_exceptions_enable=False)


async def create_user(
    settings: Settings, email: str, workspace: str, role: Role, password: str, name: str | None
) -> tuple[str, bool]:
    """(user id, created); an existing user keeps their password and gains the workspace."""
    await ensure_schema(settings)
    async with unit_of_work(settings) as session:
        ws, _ = await WorkspaceService(session).get_or_create(workspace)
        users = UserService(session)
        user = await users.by_email(email)
        created = user is None
        if user is None:
            user = await users.create(email, password, name)
        await users.grant(user.id, ws.id, role)
    return user.id, created


@app.command()
def create(
    email: str = typer.Option(..., help="The person's email; they sign in with it."),
    workspace: str = typer.Option("Default", help="Workspace name; created if it does not exist."),
    role: Role = typer.Option(Role.admin, help="admin (may change things) or viewer."),
    name: str | None = typer.Option(None, help="Display name."),
    prompt: bool = typer.Option(
        False, "--prompt", help="Ask for the password instead of generating one."
    ),
) -> None:
    """Create a dashboard user (or add an existing one to a workspace)."""
    settings = settings_or_exit()
    if prompt:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = generate_password()
    try:
        user_id, created = asyncio.run(
            create_user(settings, email, workspace, role, password, name)
        )
    except ReferkitError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    typer.echo(f"User       {user_id} ({email}, {role.value} in {workspace})")
    typer.echo(f"Sign in    {settings.base_url}/dashboard/login")
    if not created:
        typer.echo("Password   unchanged (the user already existed)")
    elif not prompt:
        typer.echo(f"Password   {password}  (shown only now)")


async def _invite(settings: Settings, workspace: str, role: Role, email: str | None) -> str:
    await ensure_schema(settings)
    async with unit_of_work(settings) as session:
        ws, _ = await WorkspaceService(session).get_or_create(workspace)
        _, token = await UserService(session).invite(ws.id, role, None, email)
    return token


@app.command()
def invite(
    workspace: str = typer.Option("Default", help="Workspace name; created if it does not exist."),
    role: Role = typer.Option(Role.viewer, help="admin or viewer."),
    email: str | None = typer.Option(None, help="Only this email may accept."),
) -> None:
    """Print a one-time invitation link (valid 7 days)."""
    settings = settings_or_exit()
    token = asyncio.run(_invite(settings, workspace, role, email))
    typer.echo(f"{settings.base_url}/dashboard/invite/{token}")
