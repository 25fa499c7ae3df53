"""``referkit db upgrade|downgrade|current|check``."""

from __future__ import annotations

import asyncio

import typer

from referkit.cli.common import console, settings_or_exit
from referkit.db import migrate

app = typer.Typer(help="Database migrations.", no_args_is_help=True, pretty_exceptions_enable=False)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = settings_or_exit()
    bouncer = settings.database_pgbouncer
    asyncio.run(
        migrate.upgrade(settings.db_url, revision, keyring=settings.keyring, pgbouncer=bouncer)
    )
    at = asyncio.run(migrate.current(settings.db_url, pgbouncer=bouncer))
    console.print(f"[green]Database at {at}[/green]")


@app.command()
def downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'.")) -> None:
    """Revert migrations down to REVISION."""
    settings = settings_or_exit()
    bouncer = settings.database_pgbouncer
    asyncio.run(
        migrate.downgrade(settings.db_url, revision, keyring=settings.keyring, pgbouncer=bouncer)
    )
    console.print(
        f"Database at {asyncio.run(migrate.current(settings.db_url, pgbouncer=bouncer)) or 'base'}"
    )


@app.command()
def current() -> None:
    """Print the database's revision and the code's head."""
    settings = settings_or_exit()
    bouncer = settings.database_pgbouncer
    revision = asyncio.run(migrate.current(settings.db_url, pgbouncer=bouncer))
    typer.echo(f"current: {revision or 'none'}")
    typer.echo(f"head:    {migrate.head_revision()}")


@app.command()
def check() -> None:
    """Exit non-zero unless the database is at head and matches the models (no drift)."""
    settings = settings_or_exit()
    bouncer = settings.database_pgbouncer
    try:
        asyncio.run(migrate.check(settings.db_url, pgbouncer=bouncer))
    except migrate.SchemaDrift as exc:
        console.print(f"[red]Schema drift:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print("[green]Database matches the models at head.[/green]")


@app.command()
def revision(
    message: str = typer.Option(..., "--message", "-m", help="What the migration does."),
) -> None:
    """(Developers) autogenerate a migration from the models against a database at head."""
    settings = settings_or_exit()
    asyncio.run(migrate.autogenerate(settings.db_url, message))
