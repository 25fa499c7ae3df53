"""Helpers the pages share: list paging and program choices."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import Unprocessable
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


Form = dict[str, list[str]]


def text(form: Form, name: str) -> str | None:
    """A text field, or None when left empty."""
    values = form.get(name)
    value = values[-1].strip() if values else ""
    return value or None


def number(form: Form, name: str, label: str) -> int | None:
    """A whole-number field (None when empty); the schemas want real ints, not strings."""
    value = text(form, name)
    if value is None:
        return None
    try:
        return int(value.replace(",", "").replace("_", ""))
    except ValueError:
        raise Unprocessable(f"{label} must be a whole number.") from None


def decimal(form: Form, name: str, label: str) -> float | None:
    value = text(form, name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise Unprocessable(f"{label} must be a number.") from None


def checked(form: Form, name: str) -> bool:
    return name in form


def lines(form: Form, name: str) -> list[str]:
    """A textarea of one entry per line (commas work too)."""
    raw = (text(form, name) or "").replace(",", "\n")
    return [line.strip() for line in raw.splitlines() if line.strip()]
