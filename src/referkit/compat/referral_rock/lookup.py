"""Referral Rock's query objects resolved through the domain services.

A query names one row: ``primaryInfo`` (an id or a referral code) alone, or ``secondaryInfo``
(external id or email) together with ``tertiaryInfo`` (the program by id, name or title).
A query that matches nothing, or more than one row, raises ``NotFound`` (Referral Rock updates
or removes a row only when the query identifies it uniquely).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.compat.referral_rock.schemas import MemberQuery, ReferralQuery
from referkit.errors import NotFound
from referkit.kit.ids import looks_like_id
from referkit.kit.pagination import PageParams
from referkit.member.service import MemberService
from referkit.models import Member, Program, Referral
from referkit.program.service import ProgramService
from referkit.referral.service import ReferralService

_SCAN = PageParams(limit=1000, cursor_id=None, offset=0)


async def find_program(session: AsyncSession, principal: Principal, ref: str) -> Program:
    """A program by id, or by name (Referkit's slug) or title (Referkit's name)."""
    programs = ProgramService(session)
    if looks_like_id(ref, "prog"):
        return await programs.get(principal, ref)
    rows, _ = await programs.list(principal, None, _SCAN)
    wanted = ref.strip().lower()
    for program in rows:
        if wanted in (program.slug.lower(), program.name.lower()):
            return program
    raise NotFound(f"No program named {ref!r} in this workspace.")


async def find_member(session: AsyncSession, principal: Principal, query: MemberQuery) -> Member:
    members = MemberService(session)
    primary = query.primaryInfo
    if primary and primary.memberId:
        return await members.get(principal, primary.memberId)
    if primary and primary.referralCode:
        member = await members.by_code(principal, primary.referralCode)
        if member is None:
            raise NotFound(f"No member has the referral code {primary.referralCode!r}.")
        return member
    secondary, tertiary = query.secondaryInfo, query.tertiaryInfo
    program_ref = tertiary.program_ref if tertiary else None
    if not secondary or not (secondary.email or secondary.externalIdentifier) or not program_ref:
        raise NotFound(
            "The query needs primaryInfo (memberId or referralCode), or secondaryInfo "
            "(email or externalIdentifier) with tertiaryInfo (the program)."
        )
    program = await find_program(session, principal, program_ref)
    found, _ = await members.list(
        principal,
        program.id,
        PageParams(limit=2, cursor_id=None, offset=0),
        q=None,
        status=None,
        email=secondary.email,
        external_id=secondary.externalIdentifier,
    )
    if len(found) != 1:
        raise NotFound("The query does not identify exactly one member.")
    return found[0]


async def find_referral(
    session: AsyncSession, principal: Principal, query: ReferralQuery
) -> Referral:
    referrals = ReferralService(session)
    primary = query.primaryInfo
    if primary and primary.referralId:
        return await referrals.get(principal, primary.referralId)
    secondary, tertiary = query.secondaryInfo, query.tertiaryInfo
    if not secondary or not (secondary.email or secondary.externalIdentifier):
        raise NotFound(
            "The query needs primaryInfo (referralId) or secondaryInfo (email or "
            "externalIdentifier), with tertiaryInfo to name the program."
        )
    program_id = None
    if tertiary and tertiary.program_ref:
        program_id = (await find_program(session, principal, tertiary.program_ref)).id
    found = await referrals.for_referee(
        principal, program_id, secondary.email, secondary.externalIdentifier
    )
    if found is None:
        raise NotFound("No referral matches the query.")
    return found
