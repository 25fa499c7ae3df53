"""Embed tokens and the referrer dashboard's data.

``EmbedService.issue_token(member, ttl_seconds)`` is the one way to mint a token; the API's two
token endpoints (and anything else that needs to show a member their dashboard, such as a live
preview) go through it. ``open`` turns a token back into a viewer: signature, expiry, then the
member still active (so disabling or deleting a member revokes its tokens at their next use).

A viewer acts through a read-only principal of the token's workspace and mode, so the stats,
referral and reward services apply their own tenancy and rules: nothing is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal, Scope
from referkit.embed import tokens
from referkit.embed.exceptions import EmbedTokenError, EmbedTokenExpired, EmbedTokenRevoked
from referkit.embed.schemas import (
    DEFAULT_TTL_SECONDS,
    MAX_TTL_SECONDS,
    MIN_TTL_SECONDS,
    EmbedMe,
    EmbedMember,
    EmbedProgram,
    EmbedStats,
    EmbedToken,
    RecentReferral,
    ShareLinks,
)
from referkit.embed.views import mask_email, share_links
from referkit.errors import NotFound, Unprocessable
from referkit.kit.pagination import PageParams
from referkit.kit.time import utcnow
from referkit.member.schemas import MemberCreate, MemberStatus
from referkit.member.service import MemberResult, MemberService
from referkit.models import Member, Program
from referkit.program.service import ProgramService
from referkit.referral.service import ReferralService
from referkit.referral.states import ReferralStatus
from referkit.reward.service import RewardService
from referkit.stats.service import StatsService

RECENT_REFERRALS = 10
PAGE_PATH = "/embed/referrer"


@dataclass(frozen=True)
class EmbedViewer:
    """Who a valid token shows the dashboard to."""

    claims: tokens.EmbedClaims
    principal: Principal
    member: Member
    program: Program


def viewer_principal(claims: tokens.EmbedClaims) -> Principal:
    """Read-only access to the token's workspace and mode; the key id names the token so
    logs and rate limits can tell tokens apart."""
    return Principal(
        workspace_id=claims.workspace_id,
        key_id=f"embed_{claims.token_id}",
        scope=Scope.read_only,
        livemode=claims.livemode,
    )


def check_unexpired(claims: tokens.EmbedClaims, now: datetime | None = None) -> None:
    if claims.expired(now or utcnow()):
        raise EmbedTokenExpired("The embed token has expired; load the page again.")


def _active(member: Member) -> bool:
    return member.status == MemberStatus.active.value and member.deleted_at is None


class EmbedService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        signing_key: bytes,
        base_url: str,
        verifier: tokens.Verifier | None = None,
    ) -> None:
        self.session = session
        self.verifier = verifier or tokens.Verifier(signing_key)
        self.key = self.verifier.key
        self.base_url = base_url.rstrip("/")

    # Issuing ----------------------------------------------------------------------------------

    def issue_token(self, member: Member, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> EmbedToken:
        """A token for ``member`` (already checked to be the caller's), valid ``ttl_seconds``."""
        if not MIN_TTL_SECONDS <= ttl_seconds <= MAX_TTL_SECONDS:
            raise Unprocessable(
                f"A token lives between {MIN_TTL_SECONDS} and {MAX_TTL_SECONDS} seconds.",
                errors=[
                    {
                        "field": "expires_in_seconds",
                        "in": "body",
                        "message": "out of range",
                        "type": "value_error",
                    }
                ],
            )
        if not _active(member):
            raise Unprocessable(f"Member {member.id} is disabled.", code="member_disabled")
        claims = tokens.new_claims(
            workspace_id=member.workspace_id,
            livemode=member.livemode,
            program_id=member.program_id,
            member_id=member.id,
            now=utcnow(),
            ttl_seconds=ttl_seconds,
        )
        token = tokens.sign(claims, self.key)
        return EmbedToken(
            token=token,
            url=f"{self.base_url}{PAGE_PATH}?token={token}",
            expires_at=claims.expires_at_datetime,
            member_id=member.id,
            program_id=member.program_id,
        )

    async def issue_for_member(
        self, principal: Principal, member_id: str, ttl_seconds: int
    ) -> EmbedToken:
        member = await MemberService(self.session).get(principal, member_id)
        return self.issue_token(member, ttl_seconds)

    async def issue_for_program(
        self, principal: Principal, program_id: str, body: MemberCreate, ttl_seconds: int
    ) -> tuple[EmbedToken, MemberResult]:
        """Create or fetch the member (the member service's rules), then its token."""
        result = await MemberService(self.session).create_or_fetch(principal, program_id, body)
        return self.issue_token(result.member, ttl_seconds), result

    # Using ------------------------------------------------------------------------------------

    def verify(self, token: str) -> tokens.EmbedClaims:
        """The claims of a token we signed (expired or not)."""
        try:
            return self.verifier.verify(token)
        except tokens.TokenError:
            raise EmbedTokenError("The embed token is not valid.") from None

    async def program_of(self, claims: tokens.EmbedClaims) -> Program | None:
        """The token's program, if it still exists: its allowed origins frame even the
        expired-token page, so the host shows a friendly message rather than a browser error."""
        try:
            return await ProgramService(self.session).get(
                viewer_principal(claims), claims.program_id
            )
        except NotFound:
            return None

    async def open(
        self,
        claims: tokens.EmbedClaims,
        *,
        program: Program | None = None,
        now: datetime | None = None,
    ) -> EmbedViewer:
        """The viewer of a verified token: unexpired, its member still there and active.

        ``program`` is the token's program when the caller already has it (``program_of``).
        """
        check_unexpired(claims, now)
        principal = viewer_principal(claims)
        try:
            member = await MemberService(self.session).get(principal, claims.member_id)
            if program is None or program.id != claims.program_id:
                program = await ProgramService(self.session).get(principal, claims.program_id)
        except NotFound:
            raise EmbedTokenRevoked("The member of this embed token no longer exists.") from None
        if not _active(member) or member.program_id != program.id:
            raise EmbedTokenRevoked("The member of this embed token is disabled.")
        return EmbedViewer(claims=claims, principal=principal, member=member, program=program)

    async def dashboard(self, viewer: EmbedViewer) -> EmbedMe:
        """Everything the dashboard shows, from the services that own each number."""
        member, program, principal = viewer.member, viewer.program, viewer.principal
        stats = await StatsService(self.session).member_totals(member, None, None)
        referrals, _ = await ReferralService(self.session).search(
            principal,
            PageParams(limit=RECENT_REFERRALS, cursor_id=None, offset=None),
            program_id=program.id,
            member_id=member.id,
            status=None,
            q=None,
            created_after=None,
            created_before=None,
        )
        link = f"{self.base_url}/r/{member.referral_code}"
        return EmbedMe(
            member=EmbedMember(
                id=member.id,
                name=member.name,
                referral_code=member.referral_code,
                referral_link=link,
            ),
            program=EmbedProgram(id=program.id, name=program.name),
            stats=EmbedStats(
                reach=stats.reach,
                clicks=stats.clicks,
                referrals=stats.referrals,
                qualified_referrals=stats.qualified_referrals,
            ),
            rewards_earned=stats.rewards_earned,
            rewards=stats.rewards,
            milestones=await RewardService(self.session).milestones(program, member.id),
            recent_referrals=[
                RecentReferral(
                    id=referral.id,
                    referee=mask_email(referral.referee_email),
                    status=ReferralStatus(referral.status),
                    created_at=referral.created_at,
                )
                for referral in referrals
            ],
            share=ShareLinks(**share_links(link, program.name)),
            expires_at=viewer.claims.expires_at_datetime,
        )
