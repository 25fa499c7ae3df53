"""Helpers shared by CLI commands: settings with readable errors, schema readiness, a DB scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.config import Settings, SettingsError, load_settings
from referkit.db import migrate
from referkit.db.engine import create_engine
from referkit.db.session import SessionFactory

# soft_wrap: messages carry ids, secrets and variable names that must stay copyable on one line.
console = Console(stderr=True, soft_wrap=True)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


async def ensure_schema(settings: Settings) -> None:
    """Upgrade an embedded SQLite database; require PostgreSQL to be migrated explicitly."""
    if settings.is_sqlite:
        await migrate.upgrade(
            settings.db_url, keyring=settings.keyring, pgbouncer=settings.database_pgbouncer
        )
        return
    current, head = (
        await migrate.current(settings.db_url, pgbouncer=settings.database_pgbouncer),
        migrate.head_revision(),
    )
    if current != head:
        console.print(
            f"[red]The database is at {current or 'an empty schema'}, head is {head}.[/red] "
            "Run `referkit db upgrade` first."
        )
        raise typer.Exit(1)


@asynccontextmanager
async def unit_of_work(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(settings.db_url, pool_size=2, pgbouncer=settings.database_pgbouncer)
    try:
        async with SessionFactory(engine, keyring=settings.keyring).transaction() as session:
            yield session
    finally:
        await engine.dispose()
