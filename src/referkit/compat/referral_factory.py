"""Referral Factory's API under ``/api/v2/…`` (developers.referral-factory.com): change the
base URL and keep the Bearer token calls.

Vocabulary: a *campaign* is a Referkit program (``campaign_id`` is the program id); a *user*
is either a referrer (``type: person_referring``, a Referkit member, with its ``code`` and
``url``) or a lead (``type: person_invited``, a Referkit referral). Users are named by ``id``
(``mem_…`` or ``ref_…``) or by an *identifier*: an email or a referral code. Every call goes
to the domain services; this module only translates fields and envelopes.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.auth.principal import Principal
from referkit.compat.routing import domain, shaped_route
from referkit.db.session import APIRouter
from referkit.errors import NotFound, Unprocessable
from referkit.kit.ids import looks_like_id
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.schemas import WholeNumber
from referkit.member.schemas import MemberCreate, MemberUpdate, member_view
from referkit.member.service import MemberService
from referkit.models import Member as MemberRow
from referkit.models import Referral as ReferralRow
from referkit.program.schemas import Program
from referkit.program.service import ProgramService
from referkit.referral.schemas import ReferralCreate, ReferralUpdate
from referkit.referral.service import ReferralService
from referkit.referral.states import ReferralStatus

FIELDS = {"email": "email", "name": "first_name", "referral_code": "code"}
MAX_PER_PAGE = 250
DEFAULT_PER_PAGE = 25


def render_error(
    status: int, code: str, detail: str, errors: list[dict[str, Any]]
) -> dict[str, Any]:
    """``{message, errors: {field: [messages]}}`` — the shape Referral Factory's Laravel API
    answers; ``code`` is Referkit's machine-readable addition."""
    body: dict[str, Any] = {"message": detail, "code": code}
    if errors:
        by_field: dict[str, list[str]] = {}
        for error in errors:
            by_field.setdefault(error["field"] or error["in"], []).append(error["message"])
        body["errors"] = by_field
    return body


router = APIRouter(
    prefix="/api/v2",
    tags=["Referral Factory compatibility"],
    include_in_schema=False,
    route_class=shaped_route(render_error),
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UserCreate(_Body):
    campaign_id: str = Field(max_length=40)
    first_name: str | None = Field(default=None, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    code: str | None = Field(default=None, max_length=32, description="A custom referral code.")
    referrer_id: str | None = Field(
        default=None, max_length=40, description="Create a lead referred by this referrer."
    )
    referrer_code: str | None = Field(default=None, max_length=40)


class UserChanges(_Body):
    first_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    code: str | None = Field(default=None, max_length=32)


class Qualification(_Body):
    qualified: bool
    id: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    code: str | None = Field(default=None, max_length=40)
    campaign_id: str | None = Field(default=None, max_length=40)


class UserSearch(_Body):
    campaign_id: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    code: str | None = Field(default=None, max_length=40)
    search: str | None = Field(default=None, max_length=200)
    type: str | None = Field(default=None, pattern="^(person_referring|person_invited)$")
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE)


def _dt(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _referrer(member: MemberRow, base_url: str) -> dict[str, Any]:
    view = member_view(member, base_url)
    return {
        "id": view.id,
        "campaign_id": view.program_id,
        "referrer_id": None,
        "code": view.referral_code,
        "url": view.referral_link,
        "first_name": view.name,
        "email": view.email,
        "external_id": view.external_id,
        "source": "Api",
        "type": "person_referring",
        "signed_up_at": _dt(view.created_at),
        "qualified_at": None,
        "unsubscribed_at": None,
        "meta": [{"field": k, "value": v} for k, v in view.metadata.items()],
    }


def _lead(referral: ReferralRow) -> dict[str, Any]:
    return {
        "id": referral.id,
        "campaign_id": referral.program_id,
        "referrer_id": referral.member_id,
        "code": None,
        "url": None,
        "first_name": referral.referee_name,
        "email": referral.referee_email,
        "external_id": referral.referee_external_id,
        "source": "Referred",
        "type": "person_invited",
        "status": referral.status,
        "signed_up_at": _dt(referral.created_at),
        "qualified_at": _dt(referral.qualified_at),
        "unsubscribed_at": None,
        "meta": [],
    }


def _base(request: Request) -> str:
    value: str = request.app.state.settings.base_url
    return value


def _page(page: int, per_page: int) -> PageParams:
    return PageParams(limit=per_page, cursor_id=None, offset=(page - 1) * per_page)


def _listing(
    items: list[dict[str, Any]], meta: PageMeta, page: int, per_page: int
) -> dict[str, Any]:
    total = meta.total or 0
    return {
        "data": items,
        "meta": {
            "current_page": page,
            "per_page": per_page,
            "total": total,
            "last_page": max(1, math.ceil(total / per_page)),
        },
    }


def _campaign(program: Program) -> dict[str, Any]:
    return {
        "id": program.id,
        "name": program.name,
        "status": program.status.value,
        "url": program.landing_url,
        "created_at": _dt(program.created_at),
    }


# Users ------------------------------------------------------------------------------------------


async def _create_lead(
    session: AsyncSession, principal: Principal, body: UserCreate
) -> ReferralRow:
    create = domain(
        ReferralCreate,
        {
            "program_id": body.campaign_id,
            "member_id": body.referrer_id,
            "referral_code": body.referrer_code,
            "referee": {"email": body.email, "name": body.first_name},
        },
        {"program_id": "campaign_id", "member_id": "referrer_id", "referee": "email"},
    )
    return await ReferralService(session).create(principal, create)


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(
    body: UserCreate,
    request: Request,
    response: Response,
    principal: WritePrincipal,
    session: Session,
) -> dict[str, Any]:
    """Create or fetch a referrer (same email in the campaign: the same user, 200), or a lead
    when ``referrer_id`` / ``referrer_code`` names who referred them."""
    if body.referrer_id or body.referrer_code:
        return {"data": _lead(await _create_lead(session, principal, body))}
    create = domain(
        MemberCreate,
        {"email": body.email, "name": body.first_name, "referral_code": body.code},
        FIELDS,
    )
    result = await MemberService(session).create_or_fetch(principal, body.campaign_id, create)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return {"data": _referrer(result.member, _base(request))}


async def _find(
    session: AsyncSession, principal: Principal, identifier: str, campaign_id: str | None
) -> MemberRow | ReferralRow:
    """A user by id (``mem_…``, ``ref_…``), referral code or email (referrers first)."""
    members = MemberService(session)
    if looks_like_id(identifier, "mem"):
        return await members.get(principal, identifier)
    if looks_like_id(identifier, "ref"):
        return await ReferralService(session).get(principal, identifier)
    if "@" not in identifier:
        member = await members.by_code(principal, identifier)
        if member is None:
            raise NotFound(f"No user with the code {identifier!r}.")
        return member
    found, _ = await members.list(
        principal,
        campaign_id,
        PageParams(limit=1, cursor_id=None, offset=0),
        q=None,
        status=None,
        email=identifier,
        external_id=None,
    )
    if found:
        return found[0]
    lead = await ReferralService(session).for_referee(principal, campaign_id, identifier, None)
    if lead is None:
        raise NotFound(f"No user with the email {identifier!r}.")
    return lead


def _user(row: MemberRow | ReferralRow, request: Request) -> dict[str, Any]:
    return _referrer(row, _base(request)) if isinstance(row, MemberRow) else _lead(row)


@router.put("/users/qualification")
async def qualify_user(
    body: Qualification, principal: WritePrincipal, session: Session
) -> dict[str, Any]:
    """``qualified: true`` qualifies the lead; ``false`` takes a qualified lead back out
    (Referkit: denied, which cancels its pending rewards) or leaves a pending one pending."""
    identifier = body.id or body.code or body.email
    if identifier is None:
        raise Unprocessable("Name the lead by id, code, or email with campaign_id.")
    row = await _find(session, principal, identifier, body.campaign_id)
    if not isinstance(row, ReferralRow):
        raise Unprocessable(f"User {row.id} is a referrer; only leads are qualified.")
    if body.qualified:
        target = ReferralStatus.qualified
    elif row.status == ReferralStatus.qualified.value:
        target = ReferralStatus.denied
    else:
        target = ReferralStatus.pending
    referral = await ReferralService(session).update(
        principal, row.id, ReferralUpdate(status=target)
    )
    return {"data": _lead(referral)}


@router.get("/users/{identifier}")
async def get_user(
    identifier: str,
    request: Request,
    principal: ReadPrincipal,
    session: Session,
    campaign_id: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    return {"data": _user(await _find(session, principal, identifier, campaign_id), request)}


@router.put("/users/{user_id}")
async def update_user(
    user_id: str,
    body: UserChanges,
    request: Request,
    principal: WritePrincipal,
    session: Session,
) -> dict[str, Any]:
    row = await _find(session, principal, user_id, None)
    if not isinstance(row, MemberRow):
        raise Unprocessable("A lead's details cannot be changed; qualify it instead.")
    fields = {"name": body.first_name, "email": body.email, "referral_code": body.code}
    update = domain(MemberUpdate, {k: v for k, v in fields.items() if v is not None}, FIELDS)
    member = await MemberService(session).update(principal, row.id, update)
    return {"data": _referrer(member, _base(request))}


@router.delete("/users/{user_id}")
async def delete_user(user_id: str, principal: WritePrincipal, session: Session) -> dict[str, Any]:
    row = await _find(session, principal, user_id, None)
    if isinstance(row, MemberRow):
        await MemberService(session).erase(principal, row.id)
    else:
        await ReferralService(session).delete(principal, row.id)
    return {"message": "User deleted.", "id": row.id}


async def _search(
    request: Request, session: AsyncSession, principal: Principal, query: UserSearch
) -> dict[str, Any]:
    params = _page(query.page, query.per_page)
    if query.type == "person_invited":
        leads, meta = await ReferralService(session).search(
            principal,
            params,
            program_id=query.campaign_id,
            member_id=None,
            status=None,
            q=query.email or query.search,
            created_after=None,
            created_before=None,
        )
        return _listing([_lead(r) for r in leads], meta, query.page, query.per_page)
    members, meta = await MemberService(session).list(
        principal,
        query.campaign_id,
        params,
        q=query.code or query.search,
        status=None,
        email=query.email,
        external_id=None,
    )
    base = _base(request)
    return _listing([_referrer(m, base) for m in members], meta, query.page, query.per_page)


@router.get("/users")
async def list_users(
    request: Request,
    principal: ReadPrincipal,
    session: Session,
    campaign_id: Annotated[str | None, Query(max_length=40)] = None,
    type: Annotated[str | None, Query(pattern="^(person_referring|person_invited)$")] = None,
    page: Annotated[int, Ge(1), Le(1_000_000), WholeNumber, Query()] = 1,
    per_page: Annotated[int, Ge(1), Le(MAX_PER_PAGE), WholeNumber, Query()] = DEFAULT_PER_PAGE,
) -> dict[str, Any]:
    query = UserSearch(campaign_id=campaign_id, type=type, page=page, per_page=per_page)
    return await _search(request, session, principal, query)


@router.post("/users/search")
async def search_users(
    body: UserSearch, request: Request, principal: ReadPrincipal, session: Session
) -> dict[str, Any]:
    return await _search(request, session, principal, body)


# Campaigns --------------------------------------------------------------------------------------


@router.get("/campaigns")
async def list_campaigns(
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[int, Ge(1), Le(1_000_000), WholeNumber, Query()] = 1,
    per_page: Annotated[int, Ge(1), Le(MAX_PER_PAGE), WholeNumber, Query()] = DEFAULT_PER_PAGE,
) -> dict[str, Any]:
    rows, meta = await ProgramService(session).list(principal, None, _page(page, per_page))
    items = [_campaign(Program.model_validate(p)) for p in rows]
    return _listing(items, meta, page, per_page)


@router.get("/campaigns/{campaign_id}")
async def get_campaign(
    campaign_id: str, principal: ReadPrincipal, session: Session
) -> dict[str, Any]:
    program = await ProgramService(session).get(principal, campaign_id)
    return {"data": _campaign(Program.model_validate(program))}
