"""Referral Rock's ``POST api/memberaccessurls``: a member's share links and pre-authenticated
embed URLs, answered with Referkit's embedded referrer dashboard (short-lived signed tokens
from ``EmbedService``; the page is read-only)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from referkit.auth.dependencies import Session, WritePrincipal
from referkit.compat.referral_rock.common import router
from referkit.compat.referral_rock.schemas import MemberAccessRequest
from referkit.config import Settings
from referkit.embed.schemas import MAX_TTL_SECONDS, MIN_TTL_SECONDS
from referkit.embed.service import EmbedService
from referkit.embed.views import share_links
from referkit.errors import NotFound, Unprocessable
from referkit.kit.pagination import PageParams
from referkit.member.schemas import member_view
from referkit.member.service import MemberService
from referkit.models import Member
from referkit.program.service import ProgramService


async def _member(session: Session, principal: WritePrincipal, body: MemberAccessRequest) -> Member:
    given = [v for v in (body.memberId, body.referralCode, body.emailAddress, body.externalId) if v]
    if len(given) != 1:
        raise Unprocessable(
            "Exactly one of memberId, referralCode, emailAddress or externalId is required."
        )
    members = MemberService(session)
    if body.memberId:
        return await members.get(principal, body.memberId)
    if body.referralCode:
        found = await members.by_code(principal, body.referralCode)
        if found is None:
            raise NotFound(f"No member has the referral code {body.referralCode!r}.")
        return found
    rows, _ = await members.list(
        principal,
        None,
        PageParams(limit=2, cursor_id=None, offset=0),
        q=None,
        status=None,
        email=body.emailAddress,
        external_id=body.externalId,
    )
    if len(rows) != 1:
        raise NotFound("No single member matches; name it by memberId or referralCode.")
    return rows[0]


@router.post("/memberaccessurls")
async def member_access_urls(
    body: MemberAccessRequest, request: Request, principal: WritePrincipal, session: Session
) -> dict[str, Any]:
    """Token lifetimes are Referkit's embed token bounds (at most a day), so
    ``expireInMinutes`` above 1,440 is shortened to a day."""
    settings: Settings = request.app.state.settings
    member = await _member(session, principal, body)
    ttl = min(max(body.expireInMinutes * 60, MIN_TTL_SECONDS), MAX_TTL_SECONDS)
    embed = EmbedService(session, signing_key=settings.signing_key, base_url=settings.base_url)
    token = embed.issue_token(member, ttl)
    program = await ProgramService(session).get(principal, member.program_id)
    link = member_view(member, settings.base_url).referral_link
    shares = share_links(link, program.name)
    return {
        "shareEmbedUrl": token.url,
        "fullEmbedUrl": token.url,
        "referralCode": member.referral_code,
        "shareUrl": link,
        "smsShareUrl": shares["sms"],
        "whatsAppShareUrl": shares["whatsapp"],
        "facebookShareUrl": shares["facebook"],
        "twitterShareUrl": shares["x"],
        "linkedInShareUrl": shares["linkedin"],
        "emailShareUrl": shares["email"],
        "expiresAt": token.expires_at.isoformat().replace("+00:00", "Z"),
    }
