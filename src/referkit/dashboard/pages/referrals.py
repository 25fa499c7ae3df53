"""Referrals: filter, read one with its attribution explanation and fraud signals, and move
one or many through their states (approve, deny, back to pending) via the referral service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from referkit.dashboard.pages.common import page, programs_of, text
from referkit.dashboard.web import (
    PREFIX,
    AdminViewer,
    CurrentViewer,
    DashboardRoute,
    Session,
    form_data,
    local_path,
    redirect,
    render,
)
from referkit.errors import Unprocessable
from referkit.kit.pagination import PageParams
from referkit.member.service import MemberService
from referkit.referral.schemas import ReferralUpdate
from referkit.referral.service import ReferralService
from referkit.referral.states import ReferralStatus
from referkit.reward.service import RewardService

router = APIRouter(
    prefix=f"{PREFIX}/referrals", route_class=DashboardRoute, include_in_schema=False
)
ReferralId = Annotated[str, Path(max_length=40)]
Text = Annotated[str | None, Query(max_length=200)]
ACTIONS = {
    "approve": ReferralStatus.approved,
    "deny": ReferralStatus.denied,
    "qualify": ReferralStatus.qualified,
    "reopen": ReferralStatus.pending,
}
MAX_BULK = 100


@router.get("")
async def referrals(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    status: Text = None,
    program: Text = None,
    q: Text = None,
    cursor: Text = None,
) -> Response:
    chosen = ReferralStatus(status) if status in set(ReferralStatus) else None
    rows, meta = await ReferralService(session).search(
        viewer.principal,
        page(cursor),
        program_id=program or None,
        member_id=None,
        status=chosen,
        q=q or None,
        created_after=None,
        created_before=None,
    )
    referrers = await MemberService(session).many(
        viewer.principal, list({r.member_id for r in rows})
    )
    query = "&".join(
        f"{k}={v}" for k, v in (("status", status), ("program", program), ("q", q)) if v
    )
    return render(
        request,
        "referrals.html",
        {
            "title": "Referrals",
            "referrals": rows,
            "referrers": referrers,
            "meta": meta,
            "statuses": list(ReferralStatus),
            "status": status or "",
            "programs": await programs_of(session, viewer.principal),
            "program": program or "",
            "q": q or "",
            "base": f"{PREFIX}/referrals?{query}",
        },
    )


@router.get("/{referral_id}")
async def referral_page(
    request: Request, session: Session, viewer: CurrentViewer, referral_id: ReferralId
) -> Response:
    referral = await ReferralService(session).get(viewer.principal, referral_id)
    member = await MemberService(session).get(viewer.principal, referral.member_id)
    rewards, _ = await RewardService(session).search(
        viewer.principal, PageParams(limit=50, cursor_id=None, offset=None), referral_id=referral.id
    )
    return render(
        request,
        "referral.html",
        {
            "title": f"Referral {referral.id}",
            "referral": referral,
            "member": member,
            "rewards": rewards,
        },
    )


async def _move(
    session: Session, viewer: AdminViewer, ids: list[str], action: str, note: str | None
) -> int:
    if action not in ACTIONS:
        raise Unprocessable(f"Unknown action {action!r}.")
    if not ids:
        raise Unprocessable("Select at least one referral.")
    if len(ids) > MAX_BULK:
        raise Unprocessable(f"At most {MAX_BULK} referrals at a time.")
    service = ReferralService(session)
    body = ReferralUpdate(status=ACTIONS[action], note=note)
    for referral_id in ids:
        await service.update(viewer.principal, referral_id, body)
    return len(ids)


@router.post("/bulk")
async def bulk(request: Request, session: Session, viewer: AdminViewer) -> Response:
    form = await form_data(request)
    ids = form.get("referral_id", [])
    # All or nothing: one refused transition rolls the whole batch back (a clear outcome).
    moved = await _move(session, viewer, ids, text(form, "action") or "", text(form, "note"))
    return redirect(
        request,
        local_path(text(form, "next") or f"{PREFIX}/referrals"),
        f"{moved} referral(s) updated.",
    )


@router.post("/{referral_id}")
async def move_one(
    request: Request, session: Session, viewer: AdminViewer, referral_id: ReferralId
) -> Response:
    form = await form_data(request)
    action = text(form, "action") or ""
    await _move(session, viewer, [referral_id], action, text(form, "note"))
    done = {"approve": "approved", "deny": "denied", "qualify": "qualified", "reopen": "reopened"}
    return redirect(request, f"{PREFIX}/referrals/{referral_id}", f"Referral {done[action]}.")
