"""Dialect helpers for ``INSERT … ON CONFLICT`` (SQLite and PostgreSQL share the syntax)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

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


@dataclass
class CounterRows:
    """Counter rows gathered by key in memory, then added to ``TABLE`` in one upsert, sorted by
    key so concurrent transactions take row locks in one order (no deadlock). Subclasses name
    the table, its key and its counters, and add rows their own way."""

    TABLE: ClassVar[Table]
    KEY: ClassVar[list[str]]
    COUNTERS: ClassVar[list[str]]
    rows: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.rows)

    def merge(self, other: Self) -> None:
        for key, row in other.rows.items():
            mine = self.rows.get(key)
            if mine is None:
                self.rows[key] = dict(row)
            else:
                for name in self.COUNTERS:
                    mine[name] += row[name]

    def sorted_rows(self) -> list[dict[str, Any]]:
        return [self.rows[key] for key in sorted(self.rows)]

    async def write(self, bind: AsyncSession | AsyncConnection) -> None:
        rows = self.sorted_rows()
        if rows:
            await add_counters(bind, self.TABLE, rows, key=self.KEY, counters=self.COUNTERS)
        self.rows.clear()
