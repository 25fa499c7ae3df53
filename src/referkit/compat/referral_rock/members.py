"""Referral Rock: programs, program/getsingle, members (+ update, remove), memberstats,
rewardrules and hooks. Paths and fields from api.referralrock.com/Help."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.auth.principal import Principal
from referkit.compat.referral_rock import hooks, views
from referkit.compat.referral_rock.common import (
    as_list,
    bulk,
    member_out,
    paging,
    programs_by_id,
    router,
)
from referkit.compat.referral_rock.lookup import find_member, find_program
from referkit.compat.referral_rock.schemas import (
    HookRemoval,
    HookSubscription,
    MemberQuery,
    MemberRemove,
    MemberUpdate,
    NewMember,
    PrimaryMemberInfo,
    SecondaryMemberInfo,
    TertiaryInfo,
)
from referkit.compat.routing import domain
from referkit.errors import NotFound, Unprocessable
from referkit.kit.pagination import PageParams
from referkit.member.schemas import MemberCreate, MemberStatus
from referkit.member.schemas import MemberUpdate as DomainMemberUpdate
from referkit.member.service import MemberService
from referkit.program.schemas import Program
from referkit.program.service import ProgramService
from referkit.referral.service import ReferralService
from referkit.referral.states import ReferralStatus
from referkit.stats.service import StatsService
from referkit.webhook.endpoints import webhook_service
from referkit.webhook.schemas import WebhookEndpointCreate
from referkit.webhook.service import WebhookService

Paging = Annotated[PageParams, Depends(paging)]
MEMBER_FIELDS = {
    "email": "email",
    "external_id": "externalIdentifier",
    "name": "firstName",
    "referral_code": "referralCode",
    "status": "disabledFlag",
}


@router.get("/programs")
async def list_programs(
    principal: ReadPrincipal,
    session: Session,
    page: Paging,
    programId: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    if programId:
        program = await find_program(session, principal, programId)
        return views.envelope(
            "programs", [views.program_view(Program.model_validate(program))], 0, 1
        )
    rows, meta = await ProgramService(session).list(principal, None, page)
    items = [views.program_view(Program.model_validate(p)) for p in rows]
    return views.envelope("programs", items, meta.offset or 0, meta.total or 0)


@router.get("/program/getsingle")
async def get_program(
    principal: ReadPrincipal,
    session: Session,
    name: Annotated[str, Query(min_length=1, max_length=200)],
) -> dict[str, Any]:
    program = await find_program(session, principal, name)
    return views.program_view(Program.model_validate(program))


@router.get("/rewardrules")
async def list_reward_rules(
    principal: ReadPrincipal,
    session: Session,
    page: Paging,
    programId: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    if programId:
        rows = [await find_program(session, principal, programId)]
    else:
        rows, _ = await ProgramService(session).list(
            principal, None, PageParams(limit=1000, cursor_id=None, offset=0)
        )
    programs = [Program.model_validate(p) for p in rows]
    rules = [
        views.reward_rule_view(program, index)
        for program in programs
        for index in range(len(program.reward_rules))
    ]
    offset = page.offset or 0
    return views.envelope("rewardRules", rules[offset : offset + page.limit], offset, len(rules))


@router.get("/members")
async def list_members(
    request: Request,
    principal: ReadPrincipal,
    session: Session,
    page: Paging,
    programId: Annotated[str | None, Query(max_length=200)] = None,
    memberId: Annotated[str | None, Query(max_length=40)] = None,
    query: Annotated[str | None, Query(max_length=200)] = None,
    showDisabled: bool = True,
) -> dict[str, Any]:
    members = MemberService(session)
    if memberId:
        rows = [await members.get(principal, memberId)]
        offset, total = 0, 1
    else:
        program_id = (await find_program(session, principal, programId)).id if programId else None
        rows, meta = await members.list(
            principal,
            program_id,
            page,
            q=query,
            status=None if showDisabled else MemberStatus.active,
            email=None,
            external_id=None,
        )
        offset, total = meta.offset or 0, meta.total or 0
    programs = await programs_by_id(session, principal, {m.program_id for m in rows})
    items = [member_out(request, m, programs.get(m.program_id)) for m in rows]
    return views.envelope("members", items, offset, total)


async def _add_member(
    request: Request, session: AsyncSession, principal: Principal, body: NewMember
) -> tuple[dict[str, Any], bool]:
    program = await find_program(session, principal, body.programId)
    create = domain(
        MemberCreate,
        {
            "email": body.email,
            "external_id": body.externalIdentifier,
            "name": views.join_name(body.firstName, body.lastName),
            "referral_code": body.referralCode,
        },
        MEMBER_FIELDS,
    )
    service = MemberService(session)
    result = await service.create_or_fetch(principal, program.id, create)
    member = result.member
    if result.created and body.disabledFlag:
        member = await service.update(
            principal, member.id, DomainMemberUpdate(status=MemberStatus.disabled)
        )
    return member_out(request, member, program), result.created


@router.post("/members", status_code=status.HTTP_201_CREATED)
async def add_member(
    body: NewMember | list[NewMember],
    request: Request,
    response: Response,
    principal: WritePrincipal,
    session: Session,
) -> Any:
    """Creates a member (or answers the existing one with this email / external id: 200)."""
    if isinstance(body, list):
        return [(await _add_member(request, session, principal, item))[0] for item in body]
    element, created = await _add_member(request, session, principal, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return element


def _member_changes(update: MemberUpdate, current_name: str | None) -> DomainMemberUpdate:
    changes = update.changes
    fields: dict[str, Any] = {}
    if changes.firstName is not None or changes.lastName is not None:
        first, last = views.split_name(current_name)
        fields["name"] = views.join_name(
            changes.firstName if changes.firstName is not None else first,
            changes.lastName if changes.lastName is not None else last,
        )
    if changes.email is not None:
        fields["email"] = changes.email
    if changes.externalIdentifier is not None:
        fields["external_id"] = changes.externalIdentifier
    if changes.referralCode is not None:
        fields["referral_code"] = changes.referralCode
    if changes.disabledFlag is not None:
        fields["status"] = "disabled" if changes.disabledFlag else "active"
    return domain(DomainMemberUpdate, fields, MEMBER_FIELDS)


@router.post("/members/update")
async def update_members(
    body: MemberUpdate | list[MemberUpdate],
    request: Request,
    principal: WritePrincipal,
    session: Session,
) -> list[dict[str, Any]]:
    service = MemberService(session)

    async def run(item: MemberUpdate) -> dict[str, Any]:
        member = await find_member(session, principal, item.query)
        member = await service.update(principal, member.id, _member_changes(item, member.name))
        program = await ProgramService(session).get(principal, member.program_id)
        return member_out(request, member, program)

    return await bulk(session, as_list(body), run)


@router.api_route("/members/remove", methods=["POST", "DELETE"])
async def remove_members(
    body: MemberRemove | list[MemberRemove], principal: WritePrincipal, session: Session
) -> list[dict[str, Any]]:
    service = MemberService(session)

    async def run(item: MemberRemove) -> None:
        member = await find_member(session, principal, item.query)
        await service.erase(principal, member.id)

    return await bulk(session, as_list(body), run)


@router.get("/memberstats/getsingle")
async def member_stats(
    principal: ReadPrincipal,
    session: Session,
    memberId: Annotated[str | None, Query(max_length=40)] = None,
    referralCode: Annotated[str | None, Query(max_length=40)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    externalIdentifier: Annotated[str | None, Query(max_length=200)] = None,
    programId: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    member = await find_member(
        session,
        principal,
        MemberQuery(
            primaryInfo=PrimaryMemberInfo(memberId=memberId, referralCode=referralCode),
            secondaryInfo=SecondaryMemberInfo(externalIdentifier=externalIdentifier, email=email),
            tertiaryInfo=TertiaryInfo(programId=programId),
        ),
    )
    stats = await StatsService(session).member(principal, member.id, None, None)
    by_status = {}
    for state in ReferralStatus:
        _, meta = await ReferralService(session).search(
            principal,
            PageParams(limit=1, cursor_id=None, offset=0),
            program_id=None,
            member_id=member.id,
            status=state,
            q=None,
            created_after=None,
            created_before=None,
        )
        by_status[state.value] = meta.total or 0
    earned = stats.rewards_earned
    main = next((t for t in stats.rewards if earned and t.unit == earned.currency), None)
    currency = earned.currency if earned else None
    return {
        "memberId": member.id,
        "referralCode": member.referral_code,
        "views": stats.clicks,
        "uniqueViews": stats.reach,
        "referrals": stats.referrals,
        "referralsPending": by_status["pending"],
        "referralsQualified": by_status["qualified"],
        "referralsApproved": by_status["approved"],
        "referralsDenied": by_status["denied"],
        "rewardsEarned": views.to_decimal(earned.amount, currency) if earned else 0,
        "rewardsPending": views.to_decimal(main.pending, currency) if main else 0,
        "rewardsIssued": views.to_decimal(main.issued, currency) if main else 0,
        "currency": currency,
    }


@router.post("/hooks", status_code=status.HTTP_201_CREATED)
async def subscribe_hook(
    body: HookSubscription, request: Request, principal: WritePrincipal, session: Session
) -> dict[str, Any]:
    types = hooks.event_types(body.event)
    if types is None:
        raise Unprocessable(
            f"Unknown or unsupported event {body.event!r}; use one of "
            + ", ".join(hooks.EVENTS)
            + ".",
            errors=[{"field": "event", "in": "body", "message": "unknown event", "type": "enum"}],
        )
    create = domain(
        WebhookEndpointCreate,
        {"url": body.target_url, "events": list(types), "description": body.event},
        {"url": "target_url", "events": "event"},
    )
    created = await webhook_service(request, session).create(principal, create, source=hooks.SOURCE)
    return {"web_hook_id": created.endpoint.id}


async def _unsubscribe(principal: WritePrincipal, session: Session, hook_id: str) -> None:
    service = WebhookService(session)
    endpoint = await service.get(principal, hook_id)
    if endpoint.source != hooks.SOURCE:
        raise NotFound(f"No Referral Rock hook {hook_id} in this workspace.")
    await service.delete(principal, hook_id)


@router.delete("/hooks/{web_hook_id}", status_code=status.HTTP_200_OK)
async def unsubscribe_hook(
    web_hook_id: str, principal: WritePrincipal, session: Session
) -> dict[str, Any]:
    await _unsubscribe(principal, session, web_hook_id)
    return {"web_hook_id": web_hook_id}


@router.delete("/hooks", status_code=status.HTTP_200_OK)
async def unsubscribe_hook_by_body(
    body: HookRemoval, principal: WritePrincipal, session: Session
) -> dict[str, Any]:
    await _unsubscribe(principal, session, body.web_hook_id)
    return {"web_hook_id": body.web_hook_id}
