"""Statements for reading one row by its columns, built once per shape and reused.

Building ``select(Model).where(Model.id == value, …)`` anew costs more Python than running it
(operator overloading, coercions, a fresh cache key for the compiled-statement cache): for a
request that reads a program by id it was a tenth of the work. ``one_by`` builds the statement
once per model and set of columns, with a bound parameter per column, and runs it with the
values; the compiled form then comes straight from SQLAlchemy's cache.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar, cast

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from referkit.db.plain_reads import PlainRead

T = TypeVar("T")


@functools.cache
def statement(
    model: type[Any], columns: tuple[str, ...], live_only: bool = False, plain: bool = False
) -> Select[Any]:
    """``SELECT model WHERE column = :column …`` (and, with ``live_only``, not soft-deleted or
    archived: ``deleted_at`` / ``archived_at`` IS NULL, whichever the model has). With
    ``plain``, the model's table columns rather than the model: a Core row, no ORM object."""
    criteria: list[ColumnElement[bool]] = [
        getattr(model, column) == bindparam(column) for column in columns
    ]
    if live_only:
        for gone in ("deleted_at", "archived_at"):
            if hasattr(model, gone):
                criteria.append(getattr(model, gone).is_(None))
    return (select(*model.__table__.c) if plain else select(model)).where(*criteria)


async def one_by(
    session: AsyncSession, model: type[T], *, live_only: bool = False, **values: Any
) -> T | None:
    """The row of ``model`` whose columns equal ``values`` (at most one by its constraints)."""
    stmt = statement(cast(Any, model), tuple(values), live_only)
    result: T | None = await session.scalar(stmt, values)
    return result


async def owned_by_id(
    session: AsyncSession,
    model: type[T],
    workspace_id: str,
    livemode: bool,
    row_id: str,
    *,
    live_only: bool = False,
) -> T | None:
    """A tenant's row by id: the id within the workspace and mode (see ``kit.tenancy.owned``)."""
    return await one_by(
        session, model, live_only=live_only, id=row_id, workspace_id=workspace_id, livemode=livemode
    )


async def owned_row_by_id(
    session: AsyncSession,
    model: type[Any],
    workspace_id: str,
    livemode: bool,
    row_id: str,
    *,
    live_only: bool = False,
) -> Any | None:
    """``owned_by_id`` as a plain row of the model's columns (each by its column name, a
    ``PlainRead``): for answering a read, where an ORM object (its identity map entry, its
    change tracking) would be built only to be turned into the response."""
    values = {"id": row_id, "workspace_id": workspace_id, "livemode": livemode}
    return await _plain_read(cast(Any, model), tuple(values), live_only).first(session, values)


@functools.cache
def _plain_read(model: type[Any], columns: tuple[str, ...], live_only: bool) -> PlainRead:
    return PlainRead(statement(cast(Any, model), columns, live_only, True))
