"""Referral Rock: referrals (+ referral/single, update, remove) and rewards (+ update, issue,
remove). Paths and fields from api.referralrock.com/Help."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.auth.principal import Principal
from referkit.compat.referral_rock import views
from referkit.compat.referral_rock.common import as_list, bulk, paging, router
from referkit.compat.referral_rock.lookup import find_member, find_program, find_referral
from referkit.compat.referral_rock.schemas import (
    NewReferral,
    NewRewardInfo,
    PrimaryReferralInfo,
    ReferralQuery,
    ReferralRemove,
    ReferralUpdate,
    RewardAction,
    SecondaryReferralInfo,
    TertiaryInfo,
)
from referkit.compat.routing import domain
from referkit.errors import Unprocessable
from referkit.kit.pagination import PageParams
from referkit.member.schemas import Member, member_view
from referkit.member.service import MemberService
from referkit.models import Referral as ReferralRow
from referkit.models import Reward as RewardRow
from referkit.referral.schemas import ReferralCreate
from referkit.referral.schemas import ReferralUpdate as DomainReferralUpdate
from referkit.referral.schemas import referral_view as domain_referral
from referkit.referral.service import ReferralService
from referkit.referral.states import ReferralStatus
from referkit.reward.schemas import Reward, RewardCreate
from referkit.reward.service import RewardService

Paging = Annotated[PageParams, Depends(paging)]
REWARD_STATUS = {"pending": "pending", "issued": "issued", "processing": "pending"}


async def _members(session: AsyncSession, principal: Principal, ids: set[str]) -> dict[str, Member]:
    base = session.info.get("base_url", "")
    found = await MemberService(session).many(principal, list(ids))
    return {mid: member_view(row, str(base)) for mid, row in found.items()}


async def _referrals_out(
    session: AsyncSession, principal: Principal, rows: list[ReferralRow]
) -> list[dict[str, Any]]:
    members = await _members(session, principal, {r.member_id for r in rows})
    return [views.referral_view(domain_referral(r), members.get(r.member_id)) for r in rows]


async def _rewards_out(
    session: AsyncSession, principal: Principal, rows: list[RewardRow]
) -> list[dict[str, Any]]:
    members = await _members(session, principal, {r.member_id for r in rows})
    return [views.reward_view(Reward.model_validate(r), members.get(r.member_id)) for r in rows]


@router.get("/referrals")
async def list_referrals(
    principal: ReadPrincipal,
    session: Session,
    page: Paging,
    programId: Annotated[str | None, Query(max_length=200)] = None,
    memberId: Annotated[str | None, Query(max_length=40)] = None,
    query: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[ReferralStatus | None, Query()] = None,
    dateFrom: datetime | None = None,
    dateTo: datetime | None = None,
) -> dict[str, Any]:
    program_id = (await find_program(session, principal, programId)).id if programId else None
    rows, meta = await ReferralService(session).search(
        principal,
        page,
        program_id=program_id,
        member_id=memberId,
        status=status,
        q=query,
        created_after=dateFrom,
        created_before=dateTo,
    )
    items = await _referrals_out(session, principal, rows)
    return views.envelope("referrals", items, meta.offset or 0, meta.total or 0)


async def _add_referral(
    session: AsyncSession, principal: Principal, body: NewReferral
) -> dict[str, Any]:
    create = domain(
        ReferralCreate,
        {
            "referral_code": body.referralCode,
            "referee": {
                "email": body.email,
                "external_id": body.externalIdentifier,
                "name": views.join_name(body.firstName, body.lastName),
            },
        },
        {"referral_code": "referralCode", "referee": "email"},
    )
    service = ReferralService(session)
    referral = await service.create(principal, create)
    if body.status not in (None, "pending") or body.note is not None:
        referral = await service.update(
            principal,
            referral.id,
            DomainReferralUpdate(
                status=ReferralStatus(body.status) if body.status else None, note=body.note
            ),
        )
    return (await _referrals_out(session, principal, [referral]))[0]


@router.post("/referrals", status_code=status.HTTP_201_CREATED)
async def add_referral(
    body: NewReferral | list[NewReferral], principal: WritePrincipal, session: Session
) -> Any:
    if isinstance(body, list):
        return [await _add_referral(session, principal, item) for item in body]
    return await _add_referral(session, principal, body)


@router.get("/referral/single")
async def get_referral(
    principal: ReadPrincipal,
    session: Session,
    referralId: Annotated[str | None, Query(max_length=40)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    externalIdentifier: Annotated[str | None, Query(max_length=200)] = None,
    programId: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    referral = await find_referral(
        session,
        principal,
        ReferralQuery(
            primaryInfo=PrimaryReferralInfo(referralId=referralId),
            secondaryInfo=SecondaryReferralInfo(email=email, externalIdentifier=externalIdentifier),
            tertiaryInfo=TertiaryInfo(programId=programId),
        ),
    )
    return (await _referrals_out(session, principal, [referral]))[0]


@router.post("/referral/update")
async def update_referrals(
    body: ReferralUpdate | list[ReferralUpdate], principal: WritePrincipal, session: Session
) -> list[dict[str, Any]]:
    service = ReferralService(session)

    async def run(item: ReferralUpdate) -> dict[str, Any]:
        referral = await find_referral(session, principal, item.lookup)
        changes = item.changes
        fields: dict[str, Any] = {}
        if changes.status is not None:
            fields["status"] = changes.status
        note = changes.note if changes.note is not None else changes.publicNote
        if note is not None:
            fields["note"] = note
        update = domain(DomainReferralUpdate, fields, {})
        referral = await service.update(principal, referral.id, update)
        return (await _referrals_out(session, principal, [referral]))[0]

    return await bulk(session, as_list(body), run)


@router.api_route("/referral/remove", methods=["POST", "DELETE"])
async def remove_referrals(
    body: ReferralRemove | list[ReferralRemove], principal: WritePrincipal, session: Session
) -> list[dict[str, Any]]:
    service = ReferralService(session)

    async def run(item: ReferralRemove) -> None:
        referral = await find_referral(session, principal, item.lookup)
        await service.delete(principal, referral.id)

    return await bulk(session, as_list(body), run)


@router.get("/rewards")
async def list_rewards(
    principal: ReadPrincipal,
    session: Session,
    page: Paging,
    programId: Annotated[str | None, Query(max_length=200)] = None,
    memberId: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    wanted = None
    if status is not None:
        wanted = REWARD_STATUS.get(status.lower())
        if wanted is None:
            raise Unprocessable(
                "status must be Pending, Processing or Issued.",
                errors=[{"field": "status", "in": "query", "message": "unknown", "type": "enum"}],
            )
    program_id = (await find_program(session, principal, programId)).id if programId else None
    rows, meta = await RewardService(session).search(
        principal, page, program_id=program_id, member_id=memberId, status=wanted
    )
    items = await _rewards_out(session, principal, rows)
    return views.envelope("rewards", items, meta.offset or 0, meta.total or 0)


@router.post("/rewards", status_code=status.HTTP_201_CREATED)
async def add_rewards(
    body: NewRewardInfo | list[NewRewardInfo], principal: WritePrincipal, session: Session
) -> list[dict[str, Any]]:
    """Manual rewards for the member (``memberQuery``) or the member behind a referral."""

    async def run(item: NewRewardInfo) -> dict[str, Any]:
        referral = None
        if item.referralQuery is not None:
            referral = await find_referral(session, principal, item.referralQuery)
        if item.memberQuery is not None:
            member_id = (await find_member(session, principal, item.memberQuery)).id
        elif referral is not None:
            member_id = referral.member_id
        else:
            raise Unprocessable("A reward needs a memberQuery or a referralQuery.")
        new = item.newReward
        currency = (new.currency or "USD").upper()
        create = domain(
            RewardCreate,
            {
                "member_id": member_id,
                "referral_id": referral.id if referral else None,
                "recipient": "referrer",
                "kind": "cash",
                "amount": views.to_minor(new.amount, currency),
                "currency": currency,
                "description": new.description or "",
            },
            {"amount": "newReward.amount", "currency": "newReward.currency"},
        )
        reward = await RewardService(session).create_manual(principal, create)
        return (await _rewards_out(session, principal, [reward]))[0]

    return await bulk(session, as_list(body), run)


async def _act(
    session: AsyncSession, principal: Principal, item: RewardAction, action: str
) -> dict[str, Any]:
    service = RewardService(session)
    if action == "issue":
        reward = await service.issue(
            principal, item.rewardId, override_hold=item.overrideHold, note=item.note
        )
    else:
        reward = await service.cancel(principal, item.rewardId, item.note)
    return (await _rewards_out(session, principal, [reward]))[0]


@router.post("/rewards/issue")
async def issue_rewards(
    body: RewardAction | list[RewardAction], principal: WritePrincipal, session: Session
) -> list[dict[str, Any]]:
    return await bulk(session, as_list(body), lambda item: _act(session, principal, item, "issue"))


@router.post("/rewards/update")
async def update_rewards(
    body: RewardAction | list[RewardAction], principal: WritePrincipal, session: Session
) -> list[dict[str, Any]]:
    """``status: Issued`` issues the reward, ``Cancelled`` cancels it."""

    async def run(item: RewardAction) -> dict[str, Any]:
        if item.status is None:
            raise Unprocessable("rewards/update needs a status: Issued or Cancelled.")
        action = "issue" if item.status.lower() == "issued" else "cancel"
        return await _act(session, principal, item, action)

    return await bulk(session, as_list(body), run)


@router.api_route("/rewards/remove", methods=["POST", "DELETE"])
async def remove_rewards(
    body: RewardAction | list[RewardAction], principal: WritePrincipal, session: Session
) -> list[dict[str, Any]]:
    """A removed reward is a cancelled one: Referkit keeps it in the ledger."""
    return await bulk(session, as_list(body), lambda item: _act(session, principal, item, "cancel"))
