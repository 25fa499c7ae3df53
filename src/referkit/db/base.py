"""Declarative base with a naming convention (so Alembic batch mode can name constraints)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, MetaData, PrimaryKeyConstraint, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from referkit.db.types import UTCDateTime
from referkit.kit.time import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


COUNTER_TABLE_STORAGE: dict[str, float | int] = {
    "fillfactor": 70,
    "autovacuum_vacuum_scale_factor": 0.01,
    "autovacuum_vacuum_insert_scale_factor": 0.01,
    "autovacuum_analyze_scale_factor": 0.02,
}
"""PostgreSQL storage parameters of the counter rollup tables (``rollups``, ``app_rollups``,
``reward_rollups``, ``dimension_rollups``; migration 0027).

Their rows are upserted (``counter = counter + delta``) by every batch that counts something on
their day, so a row gets a new version many times a day. A fill factor of 70 leaves room on each
page for those versions: an update that changes no indexed column and finds room on its page is
heap-only (no new index entries) and later updates prune the dead versions on the page without
a vacuum. Autovacuum starts at 1 % dead or newly inserted rows (the defaults are 20 %), so the
visibility map and the planner's statistics of the day column keep up with a table that gains a
day of rows every day. A counter column must not be indexed, or its updates stop being
heap-only (``ix_rollups_leaderboard`` is the one exception: the leaderboard needs it).
"""


def id_column() -> Mapped[str]:
    return mapped_column(String(40), primary_key=True)


def tenant_key(*columns: str) -> PrimaryKeyConstraint:
    """The primary key of a tenant table: ``workspace_id`` first, then what identifies the row
    inside its workspace (see ``referkit.db.tenancy``). Mapped identities follow it, so
    ``session.get(Model, (workspace_id, id))``."""
    return PrimaryKeyConstraint("workspace_id", *columns)


def tenant_fk(
    column: str, parent: str, *, name: str, ondelete: str = "CASCADE"
) -> ForeignKeyConstraint:
    """A foreign key between two tenant tables, carrying ``workspace_id`` on both sides."""
    return ForeignKeyConstraint(
        ["workspace_id", column],
        [f"{parent}.workspace_id", f"{parent}.id"],
        name=name,
        ondelete=ondelete,
    )


def tenant_id_column() -> Mapped[str]:
    """``id`` of a tenant table: unique on its own, keyed with ``workspace_id`` (``tenant_key``)."""
    return mapped_column(String(40))
