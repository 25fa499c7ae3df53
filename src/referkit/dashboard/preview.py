"""The live preview of a member's embedded referrer dashboard, for the API panel and the
member page: a short-lived embed token minted by the embed service (read-only, like every
token), shown in a frame when the program lets Referkit's own origin frame it, and always as a
link that opens the real page."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.config import Settings
from referkit.dashboard.service import Viewer
from referkit.embed.service import EmbedService
from referkit.errors import ReferkitError
from referkit.models import Member, Program

PREVIEW_TTL_SECONDS = 900


@dataclass(frozen=True)
class Preview:
    url: str
    member: Member
    origin: str
    framable: bool  # the program's allowed origins include this server's own origin


def _origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def preview_of(
    request: Request, session: AsyncSession, viewer: Viewer, member: Member, program: Program
) -> Preview | None:
    """A preview of ``member``'s dashboard, or None when none can be shown (disabled member)."""
    settings: Settings = request.app.state.settings
    service = EmbedService(session, signing_key=settings.signing_key, base_url=settings.base_url)
    try:
        token = await service.issue_for_member(viewer.principal, member.id, PREVIEW_TTL_SECONDS)
    except ReferkitError:
        return None
    origin = _origin(settings.base_url)
    allowed = {value.lower() for value in program.allowed_origins}
    return Preview(url=token.url, member=member, origin=origin, framable=origin in allowed)
