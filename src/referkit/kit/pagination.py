"""The two pagination styles every list accepts, and the one envelope every list answers.

Cursor style (default): ``limit`` + ``cursor``. Rows are ordered newest first by id; because ids
are time-sortable and unique, ``id < last_id`` is stable under concurrent inserts. Offset style
(Referral Rock's ``offset`` + ``count``) is chosen when either parameter is sent, and also
reports ``total``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from annotated_types import Ge, Le
from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from referkit.errors import Unprocessable
from referkit.kit.ids import ID_PATTERN
from referkit.kit.schemas import WholeNumber

T = TypeVar("T")
MAX_PAGE = 100
DEFAULT_PAGE = 25


class PageMeta(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    has_more: bool = Field(alias="hasMore", description="More rows follow this page.")
    cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page (cursor style)."
    )
    limit: int = Field(description="Page size used.")
    offset: int | None = Field(default=None, description="Offset used (offset style only).")
    total: int | None = Field(default=None, description="Matching rows (offset style only).")


class Page(BaseModel, Generic[T]):
    data: list[T]
    meta: PageMeta


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor_id: str | None
    offset: int | None

    @property
    def offset_style(self) -> bool:
        return self.offset is not None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        value = ""
    if not ID_PATTERN.match(value):
        raise Unprocessable(
            "cursor is not a value this API returned",
            errors=[
                {
                    "field": "cursor",
                    "in": "query",
                    "message": "invalid cursor",
                    "type": "value_error",
                }
            ],
        )
    return value


async def page_params(
    limit: Annotated[
        int | None,
        Ge(1),
        Le(MAX_PAGE),
        WholeNumber,
        Query(description="Page size (cursor style)."),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`meta.cursor` of the previous page.")
    ] = None,
    offset: Annotated[
        int | None,
        Ge(0),
        Le(1_000_000),
        WholeNumber,
        Query(description="Rows to skip (offset style)."),
    ] = None,
    count: Annotated[
        int | None,
        Ge(1),
        Le(MAX_PAGE),
        WholeNumber,
        Query(description="Page size (offset style)."),
    ] = None,
) -> PageParams:
    if cursor is not None and (offset is not None or count is not None):
        raise Unprocessable(
            "use either cursor pagination (limit, cursor) or offset pagination (offset, count)",
            errors=[
                {
                    "field": "cursor",
                    "in": "query",
                    "message": "cannot combine with offset",
                    "type": "value_error",
                }
            ],
        )
    size = count or limit or DEFAULT_PAGE
    if offset is not None or count is not None:
        return PageParams(limit=size, cursor_id=None, offset=offset or 0)
    return PageParams(limit=size, cursor_id=decode_cursor(cursor) if cursor else None, offset=None)


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[str] | ColumnElement[str],
    params: PageParams,
    *,
    rows: bool = False,
) -> tuple[list[Any], PageMeta]:
    """Run ``stmt`` (already filtered) for one page, newest first: its first column's values
    (an ORM statement's objects), or (``rows``) its rows."""
    if params.offset_style:
        assert params.offset is not None
        total = await session.scalar(
            select(func.count()).select_from(stmt.order_by(None).subquery())
        )
        found = await _read(
            session, stmt.order_by(id_column.desc()).offset(params.offset).limit(params.limit), rows
        )
        has_more = params.offset + len(found) < (total or 0)
        return found, PageMeta(
            has_more=has_more, limit=params.limit, offset=params.offset, total=total or 0
        )
    if params.cursor_id is not None:
        stmt = stmt.where(id_column < params.cursor_id)
    found = await _read(session, stmt.order_by(id_column.desc()).limit(params.limit + 1), rows)
    return cursor_page(found, params)


async def _read(session: AsyncSession, stmt: Select[Any], rows: bool) -> list[Any]:
    result = await session.execute(stmt)
    return list(result.all() if rows else result.scalars().all())


def cursor_page(rows: list[Any], params: PageParams) -> tuple[list[Any], PageMeta]:
    """A cursor-style page from up to ``limit + 1`` rows read newest first (the extra row only
    says that more follow)."""
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    cursor = encode_cursor(rows[-1].id) if has_more and rows else None
    return rows, PageMeta(has_more=has_more, cursor=cursor, limit=params.limit)
