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
