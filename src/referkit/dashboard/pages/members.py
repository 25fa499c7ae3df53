"""Members (referrers): search a program's members, add one, and a member's page with their
link and QR code, stats, referrals and rewards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from referkit.dashboard.pages.common import page, programs_of, text
from referkit.dashboard.preview import preview_of
from referkit.dashboard.service import Viewer
from referkit.dashboard.web import (
    PREFIX,
    AdminViewer,
    CurrentViewer,
    DashboardRoute,
    Session,
    describe_errors,
    form_data,
    redirect,
    render,
)
from referkit.errors import ReferkitError
from referkit.kit.pagination import PageMeta, PageParams
from referkit.link.endpoints import links_out
from referkit.link.service import LinkService
from referkit.member.schemas import MemberCreate
from referkit.member.service import MemberService
from referkit.models import Member
from referkit.program.service import ProgramService
from referkit.referral.service import ReferralService
from referkit.reward.service import RewardService
from referkit.stats.service import StatsService

router = APIRouter(prefix=f"{PREFIX}/members", route_class=DashboardRoute, include_in_schema=False)
MemberId = Annotated[str, Path(max_length=40)]
Text = Annotated[str | None, Query(max_length=200)]


@router.get("")
async def members(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    program: Text = None,
    q: Text = None,
    cursor: Text = None,
) -> Response:
    return await _list(request, session, viewer, program, q, cursor)


async def _list(
    request: Request,
    session: Session,
    viewer: Viewer,
    program: str | None,
    q: str | None = None,
    cursor: str | None = None,
    error: str | None = None,
) -> Response:
    programs = await programs_of(session, viewer.principal)
    chosen = next((p for p in programs if p.id == program), programs[0] if programs else None)
    rows: list[Member] = []
    meta: PageMeta | None = None
    if chosen is not None:
        rows, meta = await MemberService(session).list(
            viewer.principal,
            chosen.id,
            page(cursor),
            q=q or None,
            status=None,
            email=None,
            external_id=None,
        )
    return render(
        request,
        "members.html",
        {
            "title": "Members",
            "programs": programs,
            "program": chosen,
            "q": q or "",
            "members": rows,
            "meta": meta,
            "error": error,
        },
        status_code=422 if error else 200,
    )


@router.post("")
async def add_member(request: Request, session: Session, viewer: AdminViewer) -> Response:
    form = await form_data(request)
    program_id = text(form, "program_id") or ""
    body = {
        "email": text(form, "email"),
        "name": text(form, "name"),
        "external_id": text(form, "external_id"),
    }
    try:
        member = MemberCreate.model_validate({k: v for k, v in body.items() if v is not None})
        async with session.begin_nested():  # a refusal leaves nothing behind
            result = await MemberService(session).create_or_fetch(
                viewer.principal, program_id, member
            )
    except ValidationError as exc:
        return await _list(
            request, session, viewer, program_id, error="; ".join(describe_errors(exc))
        )
    except ReferkitError as exc:
        return await _list(request, session, viewer, program_id, error=exc.detail)
    notice = "Member added." if result.created else "This member already existed."
    return redirect(request, f"{PREFIX}/members/{result.member.id}", notice)


@router.get("/{member_id}")
async def member_page(
    request: Request, session: Session, viewer: CurrentViewer, member_id: MemberId
) -> Response:
    principal = viewer.principal
    member = await MemberService(session).get(principal, member_id)
    first = PageParams(limit=25, cursor_id=None, offset=None)
    links, _ = await LinkService(session).list(
        principal, first, program_id=None, member_id=member.id, q=None
    )
    stats = await StatsService(session).member(principal, member.id, None, None)
    referrals, _ = await ReferralService(session).search(
        principal,
        first,
        program_id=None,
        member_id=member.id,
        status=None,
        q=None,
        created_after=None,
        created_before=None,
    )
    rewards, _ = await RewardService(session).search(principal, first, member_id=member.id)
    program = await ProgramService(session).get(principal, member.program_id)
    preview = await preview_of(request, session, viewer, member, program)
    return render(
        request,
        "member.html",
        {
            "title": member.name or member.email or member.id,
            "member": member,
            "links": await links_out(request, session, links),
            "stats": stats,
            "referrals": referrals,
            "rewards": rewards,
            "preview": preview,
            "preview_empty": "This member is disabled: there is no referrer dashboard to show.",
        },
    )
