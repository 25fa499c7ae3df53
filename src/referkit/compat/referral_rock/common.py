"""What every Referral Rock route shares: its router, paging, error shape and bulk results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from annotated_types import Ge, Le
from fastapi import Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.compat.referral_rock import views
from referkit.compat.routing import shaped_route
from referkit.db.session import APIRouter
from referkit.errors import ReferkitError
from referkit.kit.pagination import PageParams
from referkit.kit.schemas import WholeNumber
from referkit.member.schemas import Member, member_view
from referkit.models import Member as MemberRow
from referkit.models import Program as ProgramRow
from referkit.program.schemas import Program
from referkit.program.service import ProgramService

T = TypeVar("T")

DEFAULT_COUNT = 30
MAX_COUNT = 1000
"""Referral Rock documents no upper bound on ``count``; larger requests get 1000 rows and the
``total`` to page on with."""


def render_error(
    status: int, code: str, detail: str, errors: list[dict[str, Any]]
) -> dict[str, Any]:
    """Referral Rock reports problems in ``message`` ("Review this field for error
    information"); ``code`` and ``errors`` are Referkit's machine-readable additions."""
    body: dict[str, Any] = {"message": detail, "code": code}
    if errors:
        body["errors"] = errors
    return body


router = APIRouter(
    prefix="/api",
    tags=["Referral Rock compatibility"],
    include_in_schema=False,
    route_class=shaped_route(render_error),
)


async def paging(
    offset: Annotated[int, Ge(0), Le(10_000_000), WholeNumber, Query()] = 0,
    count: Annotated[int, Ge(1), Le(2_147_483_647), WholeNumber, Query()] = DEFAULT_COUNT,
) -> PageParams:
    return PageParams(limit=min(count, MAX_COUNT), cursor_id=None, offset=offset)


def base_url(request: Request) -> str:
    value: str = request.app.state.settings.base_url
    return value


def member_out(request: Request, member: MemberRow, program: ProgramRow | None) -> dict[str, Any]:
    view: Member = member_view(member, base_url(request))
    return views.member_view(view, Program.model_validate(program) if program else None)


async def programs_by_id(
    session: AsyncSession, principal: Principal, ids: set[str]
) -> dict[str, ProgramRow]:
    service = ProgramService(session)
    return {pid: await service.get(principal, pid) for pid in ids}


async def bulk(
    session: AsyncSession,
    items: list[T],
    run: Callable[[T], Awaitable[dict[str, Any] | None]],
) -> list[dict[str, Any]]:
    """Run ``run`` on each item in a savepoint: one item's refusal leaves the others done,
    and its result says why (Referral Rock answers per item for bulk updates and removals)."""
    results = []
    for item in items:
        try:
            async with session.begin_nested():
                element = await run(item)
        except ReferkitError as exc:
            results.append({"resultInfo": {"status": "Failure", "message": exc.detail}})
            continue
        result: dict[str, Any] = {"resultInfo": {"status": "Success", "message": None}}
        if element is not None:
            result["element"] = element
        results.append(result)
    return results


def as_list(body: T | list[T]) -> list[T]:
    return body if isinstance(body, list) else [body]
