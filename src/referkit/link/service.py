"""Links: create, read, update, archive; member default links; QR codes.

Codes share one installation-wide, case-insensitive space with member referral codes (``/r/{code}``
carries no workspace), and a code once used is never handed to someone else: archived links
and deleted members keep their rows. Every change records the affected code so the redirect
cache can drop it once the transaction commits (see ``changed_codes``).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import segno
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import Conflict, NotFound, Unprocessable
from referkit.kit.codes import code_key, generate_code
from referkit.kit.ids import new_id
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.tenancy import owned
from referkit.kit.time import utcnow
from referkit.link.app_route import store_urls
from referkit.link.changes import link_changes
from referkit.link.clicks import reach_hour
from referkit.link.repository import LinkRepository, purge_reach_marks
from referkit.link.schemas import AppLinkFields, LinkCreate, LinkUpdate, QrFormat
from referkit.mobile.service import AppService
from referkit.models import Code, Link, Member
from referkit.program.service import ProgramService

_CODE_ATTEMPTS = 8


def changed_codes(session: AsyncSession) -> set[str]:
    """Code keys changed in this session's transaction (for cache invalidation after commit)."""
    return link_changes(session).codes


def _field_error(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "in": "body", "message": message, "type": "value_error"}]


def _app_fields(body: AppLinkFields) -> bool:
    return any(getattr(body, name) is not None for name in AppLinkFields.model_fields)


def _app_values(body: AppLinkFields) -> dict[str, Any]:
    return {
        "deep_link_path": body.deep_link_path,
        "deep_link_params": body.deep_link_params,
        "network": body.network,
        "campaign": body.campaign,
        "adset": body.adset,
        "ad": body.ad,
        "og": body.og.model_dump(exclude_none=True) if body.og else None,
    }


class LinkService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.links = LinkRepository(session)

    async def get(self, principal: Principal, link_id: str) -> Link:
        return await owned(principal, link_id, prefix="lnk", noun="link", load=self.links.get)

    async def list(
        self,
        principal: Principal,
        params: PageParams,
        *,
        program_id: str | None,
        member_id: str | None,
        q: str | None,
        app_id: str | None = None,
    ) -> tuple[list[Link], PageMeta]:
        return await self.links.page(
            principal.workspace_id,
            principal.livemode,
            params,
            program_id=program_id,
            member_id=member_id,
            q=q,
            app_id=app_id,
        )

    async def get_in_app(self, principal: Principal, app_id: str, link_id: str) -> Link:
        """A link of this app (another app's link, or a plain link, is a 404 here)."""
        link = await self.get(principal, link_id)
        if link.app_id != app_id:
            raise NotFound(f"No link {link_id} in app {app_id}.")
        return link

    async def code_taken(self, key: str) -> bool:
        return await self.links.code_taken(key)

    async def _owner(self, principal: Principal, body: LinkCreate) -> tuple[str | None, str | None]:
        # Imported here: the member service imports this one (default links).
        from referkit.member.service import MemberService

        program_id = body.program_id
        member_id = None
        if body.member_id is not None:
            try:
                member = await MemberService(self.session).get(principal, body.member_id)
            except NotFound:
                raise Unprocessable(
                    f"No member {body.member_id} in this workspace.",
                    errors=_field_error("member_id", "unknown member"),
                ) from None
            if program_id is not None and program_id != member.program_id:
                raise Unprocessable(
                    f"Member {member.id} belongs to program {member.program_id}.",
                    errors=_field_error("program_id", "does not match the member's program"),
                )
            program_id, member_id = member.program_id, member.id
        if program_id is not None:
            try:
                program = await ProgramService(self.session).get(principal, program_id)
            except NotFound:
                raise Unprocessable(
                    f"No program {program_id} in this workspace.",
                    errors=_field_error("program_id", "unknown program"),
                ) from None
            program_id = program.id
        return program_id, member_id

    async def create(self, principal: Principal, body: LinkCreate) -> Link:
        app_id = None
        if body.app_id is not None:
            app = await AppService(self.session).referenced(principal, body.app_id)
            app_id = app.id
            own = body.destination_url or body.ios_url or body.android_url
            if not own and not any(store_urls(app.platforms).values()):
                raise Unprocessable(
                    f"App {app.id} has no store or web URL: the link needs a destination_url.",
                    errors=_field_error("destination_url", "required for this app"),
                )
        elif _app_fields(body):
            raise Unprocessable(
                "Deep link, network, campaign and preview fields belong to app links.",
                errors=_field_error("app_id", "required with app link fields"),
            )
        program_id, member_id = await self._owner(principal, body)
        if body.destination_url is None and program_id is None and app_id is None:
            raise Unprocessable(
                "A link needs a destination_url, or a program_id/member_id whose landing URL "
                "it follows.",
                errors=_field_error("destination_url", "required without a program"),
            )
        if body.code is not None and await self.links.code_taken(code_key(body.code)):
            raise Conflict(f"The code {body.code!r} is already in use.")
        now = utcnow()
        fields: dict[str, Any] = {
            "workspace_id": principal.workspace_id,
            "livemode": principal.livemode,
            "program_id": program_id,
            "member_id": member_id,
            "app_id": app_id,
            "is_default": False,
            "destination_url": body.destination_url,
            "ios_url": body.ios_url,
            "android_url": body.android_url,
            "utm": body.utm.model_dump(exclude_none=True),
            "expires_at": body.expires_at,
            **_app_values(body),
            "created_at": now,
            "updated_at": now,
        }
        for attempt in range(_CODE_ATTEMPTS):
            code = body.code or generate_code(None, 4 + attempt // 2)
            if body.code is None and await self.links.code_taken(code_key(code)):
                continue
            link = Link(id=new_id("lnk"), code=code, code_key=code_key(code), **fields)
            try:
                async with self.session.begin_nested():
                    await self.links.claim_code(_code_of(link, "link", link.id))
                    await self.links.add(link)
            except IntegrityError:
                if body.code is not None:
                    raise Conflict(f"The code {body.code!r} is already in use.") from None
                continue
            changed_codes(self.session).add(link.code_key)
            return link
        raise Conflict("Could not allocate a unique code; try again.")

    async def update(self, principal: Principal, link_id: str, body: LinkUpdate) -> Link:
        link = await self.get(principal, link_id)
        changes = body.model_dump(exclude_unset=True)
        if (
            "destination_url" in changes
            and changes["destination_url"] is None
            and link.program_id is None
        ):
            raise Unprocessable(
                "This link has no program to fall back on; it needs a destination_url.",
                errors=_field_error("destination_url", "cannot be null"),
            )
        if "utm" in changes:
            changes["utm"] = body.utm.model_dump(exclude_none=True) if body.utm else {}
        if link.app_id is None and _app_fields(body):
            raise Unprocessable(
                "Deep link, network, campaign and preview fields belong to app links.",
                errors=_field_error("app_id", "not an app link"),
            )
        if "og" in changes:
            changes["og"] = body.og.model_dump(exclude_none=True) if body.og else None
        for name, value in changes.items():
            setattr(link, name, value)
        link.updated_at = utcnow()
        await self.session.flush()
        changed_codes(self.session).add(link.code_key)
        return link

    async def archive(self, principal: Principal, link_id: str) -> None:
        link = await self.get(principal, link_id)
        link.archived_at = link.updated_at = utcnow()
        await self.session.flush()
        changed_codes(self.session).add(link.code_key)

    async def qr(
        self, principal: Principal, link_id: str, short_url: str, fmt: QrFormat, scale: int
    ) -> bytes:
        await self.get(principal, link_id)
        out = io.BytesIO()
        segno.make(short_url, error="m").save(out, kind=fmt.value, scale=scale, border=2)
        return out.getvalue()

    # --- member default links (called by the member service, in its transaction) ------------

    async def create_default(self, member: Member) -> Link:
        """The member's default link: code = the member's referral code, claimed here for the
        member (IntegrityError when another workspace's row has it)."""
        link = Link(
            id=new_id("lnk"),
            workspace_id=member.workspace_id,
            livemode=member.livemode,
            code=member.referral_code,
            code_key=member.code_key,
            program_id=member.program_id,
            member_id=member.id,
            app_id=None,
            is_default=True,
            destination_url=None,
            utm={},
            created_at=member.created_at,
            updated_at=member.created_at,
        )
        await self.links.claim_code(_code_of(link, "member", member.id))
        await self.links.add(link)
        changed_codes(self.session).add(link.code_key)
        return link

    async def member_code_changed(self, member: Member) -> None:
        """A new default link for the new code; the old one keeps redirecting for the member."""
        old = await self.links.default_for(member.workspace_id, member.id)
        if old is not None:
            if old.code_key == member.code_key:
                old.code = member.referral_code  # same code, other letter case
                await self.session.flush()
                return
            old.is_default = False
            old.updated_at = utcnow()
            await self.session.flush()
        await self.create_default(member)

    async def archive_member_links(self, member: Member) -> None:
        for key in await self.links.archive_member_links(member.workspace_id, member.id, utcnow()):
            changed_codes(self.session).add(key)

    async def purge_reach_marks(self, now: datetime) -> int:
        """A reach mark matters only within its hour: drop those before the previous hour."""
        return await purge_reach_marks(self.session, reach_hour(now) - 1)


def _code_of(link: Link, kind: str, owner_id: str) -> Code:
    """The ``codes`` row that claims ``link``'s code for its workspace."""
    return Code(
        code_key=link.code_key,
        workspace_id=link.workspace_id,
        livemode=link.livemode,
        kind=kind,
        owner_id=owner_id,
        created_at=utcnow(),
    )
