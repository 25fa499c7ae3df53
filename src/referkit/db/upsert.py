"""Dialect helpers for ``INSERT … ON CONFLICT`` (SQLite and PostgreSQL share the syntax)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


def dialect_insert(bind: AsyncSession | AsyncConnection, table: Table) -> Any:
    """The dialect's ``insert`` (with ``on_conflict_do_*``) for the session's database."""
    name = bind.get_bind().dialect.name if isinstance(bind, AsyncSession) else bind.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def add_counters(
    bind: AsyncSession | AsyncConnection,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    key: list[str],
    counters: list[str],
) -> None:
    """A multi-row upsert: insert ``rows``, or add their ``counters`` to the existing row.

    Callers pass rows sorted by ``key`` so concurrent transactions lock rows in one order.
    """
    # PostgreSQL takes at most 32,767 parameters per statement: chunk wide batches.
    per_statement = max(1, 30_000 // max(1, len(rows[0]) if rows else 1))
    for start in range(0, len(rows), per_statement):
        stmt = dialect_insert(bind, table).values(rows[start : start + per_statement])
        stmt = stmt.on_conflict_do_update(
            index_elements=key,
            set_={name: table.c[name] + stmt.excluded[name] for name in counters},
        )
        await bind.execute(stmt)
