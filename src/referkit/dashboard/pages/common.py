"""Helpers the pages share: list paging and program choices."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.kit.pagination import DEFAULT_PAGE, PageParams, decode_cursor
from referkit.models import Program
from referkit.program.service import ProgramService

MAX_PROGRAMS = 100


def page(cursor: str | None, limit: int = DEFAULT_PAGE) -> PageParams:
    """Cursor paging for a list page (a bad cursor is a 422 page, as in the API)."""
    return PageParams(limit=limit, cursor_id=decode_cursor(cursor) if cursor else None, offset=None)


async def programs_of(session: AsyncSession, principal: Principal) -> list[Program]:
    """The workspace's programs (for filters and pickers), newest first."""
    rows, _ = await ProgramService(session).list(
        principal, None, PageParams(limit=MAX_PROGRAMS, cursor_id=None, offset=None)
    )
    return rows
