"""Row-level reads and idempotent inserts of one workspace's tables, for export and import.

Rows are copied as stored (ids, timestamps, counters), not re-derived: an import must
reproduce the same objects and the same stats, so no service logic may run on them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, func, inspect, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.types import UTCDateTime
from referkit.models import (
    Coupon,
    DimensionRollup,
    LedgerEntry,
    Link,
    Member,
    Program,
    Referral,
    Reward,
    RewardRollup,
    Rollup,
    WebhookEndpoint,
    Workspace,
)

# In foreign-key order: every row's parents are written before it.
TABLES: tuple[type[Any], ...] = (
    Workspace,
    Program,
    Member,
    Link,
    Referral,
    Reward,
    LedgerEntry,
    Coupon,
    WebhookEndpoint,
    Rollup,
    RewardRollup,
    DimensionRollup,
)
BY_NAME: dict[str, type[Any]] = {model.__tablename__: model for model in TABLES}

EXCLUDED = {"webhook_endpoints": frozenset({"secret", "previous_secret"})}
"""Columns never exported: secrets stay in the installation that issued them."""

BATCH = 500


def _columns(model: type[Any]) -> list[tuple[str, Column[Any]]]:
    """(mapped attribute, column) pairs: an attribute may differ from its column's name
    (``Member.metadata_`` is the ``metadata`` column)."""
    return [(attr.key, attr.columns[0]) for attr in inspect(model).column_attrs]


def to_json(model: type[Any], row: Any) -> dict[str, Any]:
    skip = EXCLUDED.get(model.__tablename__, frozenset())
    out: dict[str, Any] = {}
    for attr, column in _columns(model):
        if column.name in skip:
            continue
        value = getattr(row, attr)
        out[column.name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def from_json(model: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """Attribute values for ``model(**values)``; unknown keys are ignored (newer exports)."""
    values: dict[str, Any] = {}
    for attr, column in _columns(model):
        if column.name not in data:
            continue
        value = data[column.name]
        if isinstance(column.type, UTCDateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        values[attr] = value
    return values


class TransferRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def workspace(self, ref: str) -> Workspace | None:
        by_id = await self.session.get(Workspace, ref)
        if by_id is not None:
            return by_id
        found: Workspace | None = await self.session.scalar(
            select(Workspace).where(Workspace.name == ref)
        )
        return found

    async def count(self, model: type[Any], workspace_id: str) -> int:
        stmt = select(func.count()).select_from(model).where(_owner(model) == workspace_id)
        return int(await self.session.scalar(stmt) or 0)

    async def rows(self, model: type[Any], workspace_id: str) -> AsyncIterator[Any]:
        stmt = select(model).where(_owner(model) == workspace_id)
        stream = await self.session.stream_scalars(stmt.execution_options(yield_per=BATCH))
        async for row in stream:
            yield row

    async def missing(
        self, model: type[Any], rows: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The rows whose primary key is not stored yet (so importing twice adds nothing)."""
        keys = list(model.__table__.primary_key.columns)
        names = {column.name: attr for attr, column in _columns(model)}
        wanted = [tuple(row[names[c.name]] for c in keys) for row in rows]
        stmt = select(*keys).where(tuple_(*keys).in_(wanted))
        present = {tuple(found) for found in (await self.session.execute(stmt)).all()}
        return [row for row, key in zip(rows, wanted, strict=True) if key not in present]

    async def insert(self, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
        self.session.add_all([model(**row) for row in rows])
        await self.session.flush()


def _owner(model: type[Any]) -> Any:
    return model.id if model is Workspace else model.workspace_id
