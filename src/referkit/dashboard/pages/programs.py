"""Programs: list, create and edit (attribution, qualification, reward rules, fraud, origins).

The form is turned into the API's own ``ProgramCreate`` / ``ProgramUpdate`` and handed to the
program service: every rule about programs is checked there, once.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from referkit.dashboard.pages.common import (
    Form,
    checked,
    decimal,
    lines,
    number,
    programs_of,
    text,
)
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
from referkit.errors import ReferkitError, Unprocessable
from referkit.models import Program
from referkit.program.schemas import (
    AttributionModel,
    FraudMode,
    ProgramCreate,
    ProgramStatus,
    ProgramUpdate,
    Recipient,
    RefundPolicy,
    RewardKind,
    Trigger,
)
from referkit.program.service import ProgramService
from referkit.reward.schemas import CouponUpload
from referkit.reward.service import RewardService

router = APIRouter(prefix=f"{PREFIX}/programs", route_class=DashboardRoute, include_in_schema=False)
ProgramId = Annotated[str, Path(max_length=40)]
POOL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")  # as the API's pool path
RULE_ROWS = 3  # rule rows on a new program's form; an edit form shows the rules plus one more
CHOICES = {
    "statuses": list(ProgramStatus),
    "models": list(AttributionModel),
    "fraud_modes": list(FraudMode),
    "recipients": list(Recipient),
    "triggers": list(Trigger),
    "kinds": list(RewardKind),
    "refund_policies": list(RefundPolicy),
}


def _rule(form: Form, n: int) -> dict[str, Any] | None:
    """Reward rule row ``n`` of the form, or None when the row was left empty."""
    prefix = f"rule{n}_"
    kind = text(form, prefix + "kind")
    if kind is None:
        return None
    rule: dict[str, Any] = {
        "recipient": text(form, prefix + "recipient") or "referrer",
        "trigger": text(form, prefix + "trigger") or "referral_qualified",
        "kind": kind,
        "milestone_count": number(form, prefix + "milestone_count", "Milestone count"),
        "amount": number(form, prefix + "amount", "Amount"),
        "percent": decimal(form, prefix + "percent", "Percent"),
        "max_amount": number(form, prefix + "max_amount", "Cap"),
        "currency": (text(form, prefix + "currency") or "").upper() or None,
        "coupon_pool": text(form, prefix + "coupon_pool"),
        "hold_days": number(form, prefix + "hold_days", "Hold days") or 0,
        "description": text(form, prefix + "description") or "",
    }
    rule_id = text(form, prefix + "id")
    if rule_id:
        rule["id"] = rule_id
    return {k: v for k, v in rule.items() if v is not None}


def _settings(form: Form) -> dict[str, Any]:
    """The program settings of the form, shaped as the API's JSON body."""
    rules = [r for n in range(int(text(form, "rule_rows") or RULE_ROWS)) if (r := _rule(form, n))]
    return {
        "name": text(form, "name") or "",
        "landing_url": text(form, "landing_url") or "",
        "status": text(form, "status") or "active",
        "allowed_origins": lines(form, "allowed_origins"),
        "auto_issue": checked(form, "auto_issue"),
        "attribution": {
            "model": text(form, "attribution_model") or "last_click",
            "window_days": number(form, "attribution_window_days", "Window") or 30,
        },
        "qualification": {
            "event": text(form, "qualification_event") or "purchase",
            "min_amount": number(form, "qualification_min_amount", "Minimum amount"),
            "currency": (text(form, "qualification_currency") or "").upper() or None,
            "within_days": number(form, "qualification_within_days", "Within days"),
            "on_refund": text(form, "qualification_on_refund") or "deny",
        },
        "fraud": {
            "mode": text(form, "fraud_mode") or "flag",
            "self_referral": checked(form, "fraud_self_referral"),
            "disposable_emails": checked(form, "fraud_disposable_emails"),
            "same_device": checked(form, "fraud_same_device"),
            "max_referrals_per_member_per_day": number(form, "fraud_max_per_day", "Daily cap"),
            "max_referrals_per_member_per_hour": number(form, "fraud_max_per_hour", "Hourly cap"),
            "blocked_emails": lines(form, "fraud_blocked_emails"),
            "blocked_domains": lines(form, "fraud_blocked_domains"),
            "blocked_ip_ranges": lines(form, "fraud_blocked_ip_ranges"),
        },
        "reward_rules": rules,
    }


def _form_page(
    request: Request,
    program: Program | None,
    values: dict[str, Any],
    error: str | None = None,
    pools: list[Any] | None = None,
) -> Response:
    rules = values.get("reward_rules", [])
    return render(
        request,
        "program_form.html",
        {
            "title": f"Edit {program.name}" if program else "New program",
            "program": program,
            "v": values,
            "rules": rules,
            "rule_rows": len(rules) + 1 if program else max(RULE_ROWS, len(rules) + 1),
            "error": error,
            "pools": pools or [],
            **CHOICES,
        },
        status_code=422 if error else 200,
    )


def _values(program: Program) -> dict[str, Any]:
    return {
        "name": program.name,
        "landing_url": program.landing_url,
        "status": program.status,
        "allowed_origins": program.allowed_origins,
        "auto_issue": program.auto_issue,
        "attribution": program.attribution,
        "qualification": program.qualification,
        "fraud": program.fraud,
        "reward_rules": program.reward_rules,
    }


@router.get("")
async def programs(request: Request, session: Session, viewer: CurrentViewer) -> Response:
    rows = await programs_of(session, viewer.principal)
    return render(request, "programs.html", {"title": "Programs", "programs": rows})


@router.get("/new")
async def new_program(request: Request, viewer: CurrentViewer) -> Response:
    return _form_page(
        request,
        None,
        {"fraud": {"self_referral": True, "disposable_emails": True, "same_device": True}},
    )


@router.post("/new")
async def create_program(request: Request, session: Session, viewer: AdminViewer) -> Response:
    form = await form_data(request)
    try:
        values = _settings(form)
    except ReferkitError as exc:
        return _form_page(request, None, {}, exc.detail)
    try:
        body = ProgramCreate.model_validate(values)
        async with session.begin_nested():  # a refusal leaves nothing behind
            program = await ProgramService(session).create(viewer.principal, body)
    except ValidationError as exc:
        return _form_page(request, None, values, "; ".join(describe_errors(exc)))
    except ReferkitError as exc:
        return _form_page(request, None, values, exc.detail)
    return redirect(request, f"{PREFIX}/programs/{program.id}", "Program created.")


@router.get("/{program_id}")
async def program_page(
    request: Request, session: Session, viewer: CurrentViewer, program_id: ProgramId
) -> Response:
    program = await ProgramService(session).get(viewer.principal, program_id)
    pools = await RewardService(session).pools(viewer.principal, program.id)
    if not viewer.is_admin:
        return render(
            request, "program.html", {"title": program.name, "program": program, "pools": pools}
        )
    return _form_page(request, program, _values(program), pools=pools)


@router.post("/{program_id}")
async def update_program(
    request: Request, session: Session, viewer: AdminViewer, program_id: ProgramId
) -> Response:
    service = ProgramService(session)
    program = await service.get(viewer.principal, program_id)
    form = await form_data(request)
    values = _values(program)
    try:
        values = _settings(form)
        body = ProgramUpdate.model_validate(values)
        async with session.begin_nested():  # a refusal leaves nothing behind
            await service.update(viewer.principal, program.id, body)
    except ValidationError as exc:
        return _form_page(request, program, values, "; ".join(describe_errors(exc)))
    except ReferkitError as exc:
        return _form_page(request, program, values, exc.detail)
    return redirect(request, f"{PREFIX}/programs/{program.id}", "Program saved.")


@router.post("/{program_id}/coupons")
async def upload_coupons(
    request: Request, session: Session, viewer: AdminViewer, program_id: ProgramId
) -> Response:
    form = await form_data(request)
    pool = text(form, "pool") or ""
    if not POOL_NAME.fullmatch(pool):
        raise Unprocessable("A pool name is letters, digits, '_', '.' or '-' (at most 100).")
    upload = CouponUpload.model_validate({"codes": lines(form, "codes")})
    added, duplicates, available = await RewardService(session).upload_coupons(
        viewer.principal, program_id, pool, upload.codes
    )
    return redirect(
        request,
        f"{PREFIX}/programs/{program_id}",
        f"{added} codes added to {pool} ({duplicates} already there); {available} available.",
    )
