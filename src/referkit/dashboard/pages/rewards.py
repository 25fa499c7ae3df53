"""Rewards: pending and issued rewards, issue (optionally before the hold ends) and cancel,
through the reward service (which keeps the ledger)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from referkit.dashboard.pages.common import checked, page, text
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
from referkit.member.service import MemberService
from referkit.reward.service import RewardService

router = APIRouter(prefix=f"{PREFIX}/rewards", route_class=DashboardRoute, include_in_schema=False)
RewardId = Annotated[str, Path(max_length=40)]
Text = Annotated[str | None, Query(max_length=200)]
STATUSES = ("pending", "issued", "cancelled", "reversed")


@router.get("")
async def rewards(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    status: Text = None,
    cursor: Text = None,
) -> Response:
    chosen = status if status in STATUSES else None
    rows, meta = await RewardService(session).search(viewer.principal, page(cursor), status=chosen)
    members = await MemberService(session).many(viewer.principal, list({r.member_id for r in rows}))
    return render(
        request,
        "rewards.html",
        {
            "title": "Rewards",
            "rewards": rows,
            "members": members,
            "meta": meta,
            "statuses": STATUSES,
            "status": chosen or "",
            "base": f"{PREFIX}/rewards" + (f"?status={chosen}" if chosen else ""),
        },
    )


@router.post("/{reward_id}/issue")
async def issue(
    request: Request, session: Session, viewer: AdminViewer, reward_id: RewardId
) -> Response:
    form = await form_data(request)
    await RewardService(session).issue(
        viewer.principal,
        reward_id,
        override_hold=checked(form, "override_hold"),
        note=text(form, "note"),
    )
    return redirect(
        request, local_path(text(form, "next") or f"{PREFIX}/rewards"), "Reward issued."
    )


@router.post("/{reward_id}/cancel")
async def cancel(
    request: Request, session: Session, viewer: AdminViewer, reward_id: RewardId
) -> Response:
    form = await form_data(request)
    await RewardService(session).cancel(viewer.principal, reward_id, text(form, "note"))
    return redirect(
        request, local_path(text(form, "next") or f"{PREFIX}/rewards"), "Reward cancelled."
    )
