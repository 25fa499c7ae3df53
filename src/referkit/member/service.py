"""Members (referrers): create-or-fetch, read, update, erase.

Create-or-fetch must return one member however many identical calls race. The lookup runs
first; the insert runs in a savepoint, and if a unique constraint (program + email, program +
external id) fires because a concurrent call won, we look up again and return the winner. On
SQLite, write transactions begin IMMEDIATE, so racing calls queue and the second simply finds
the first; on PostgreSQL the loser's insert waits for the winner's commit, then fails cleanly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.db.session import base_url_of
from referkit.errors import Conflict
from referkit.kit.codes import code_key, generate_code
from referkit.kit.email import canonical_email, identity_email
from referkit.kit.ids import new_id
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.tenancy import owned
from referkit.kit.time import utcnow
from referkit.link.service import LinkService
from referkit.member.repository import Identified, MemberRepository
from referkit.member.schemas import Member as MemberView
from referkit.member.schemas import (
    MemberCreate,
    MemberStatus,
    MemberUpdate,
    member_view,
    stored_member_view,
)
from referkit.models import Member
from referkit.privacy.service import MemberTraces, PrivacyService
from referkit.program.service import ProgramService
from referkit.webhook.service import WebhookService

_CODE_ATTEMPTS = 8


@dataclass(frozen=True)
class MemberResult:
    member: Member
    created: bool


class MemberService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.members = MemberRepository(session)

    @functools.cached_property
    def programs(self) -> ProgramService:
        return ProgramService(self.session)

    @functools.cached_property
    def links(self) -> LinkService:
        """Made when first needed: fetching an existing member never is."""
        return LinkService(self.session)

    async def get(self, principal: Principal, member_id: str) -> Member:
        return await owned(principal, member_id, prefix="mem", noun="member", load=self.members.get)

    async def many(self, principal: Principal, member_ids: list[str]) -> dict[str, Member]:
        found = await self.members.by_ids(principal.workspace_id, principal.livemode, member_ids)
        return {member.id: member for member in found}

    async def by_code(self, principal: Principal, code: str) -> Member | None:
        return await self.members.by_code(
            principal.workspace_id, principal.livemode, code_key(code)
        )

    async def list(
        self,
        principal: Principal,
        program_id: str | None,
        params: PageParams,
        *,
        q: str | None,
        status: MemberStatus | None,
        email: str | None,
        external_id: str | None,
    ) -> tuple[list[Member], PageMeta]:
        """Members of one program, or of the whole workspace when ``program_id`` is None."""
        if program_id is not None:
            program_id = (await self.programs.get(principal, program_id)).id
        return await self.members.page(
            principal.workspace_id,
            principal.livemode,
            params,
            program_id=program_id,
            q=q,
            status=status.value if status else None,
            email_key=identity_email(email) if email else None,
            external_id=external_id,
        )

    async def _existing(
        self, workspace_id: str, program_id: str, body: MemberCreate
    ) -> Member | None:
        by_external = (
            await self.members.by_external_id(workspace_id, program_id, body.external_id)
            if body.external_id
            else None
        )
        by_email = (
            await self.members.by_email(workspace_id, program_id, identity_email(body.email))
            if body.email is not None
            else None
        )
        return await self._one_of(body, by_external, by_email)

    async def _one_of(
        self, body: MemberCreate, by_external: Member | None, by_email: Member | None
    ) -> Member | None:
        """The member that ``body`` names, from the members with its external id and its email
        (each None when not asked for or not found); Conflict when they are two people."""
        named = _named(body, _identity(by_external), _identity(by_email))
        if named is _BY_EXTERNAL_ID:
            return by_external
        if named is None or by_email is None:
            return None
        if named is _BY_EMAIL_LINKING:
            by_email.external_id = body.external_id  # the first call that knows it links it
            by_email.updated_at = utcnow()
            await self.session.flush()
            await self._emit(by_email, "member.updated")
        return by_email

    async def _identified(
        self, principal: Principal, program_id: str, body: MemberCreate
    ) -> Identified[Member]:
        """The members with the body's external id and email in the caller's program, read
        with the program in one statement (404 as ``ProgramService.get`` for another
        workspace's, the other mode's, or no program)."""

        async def load(workspace_id: str, livemode: bool, row_id: str) -> Identified[Member] | None:
            return await self.members.identify(workspace_id, livemode, row_id, **_identities(body))

        return await owned(principal, program_id, prefix="prog", noun="program", load=load)

    async def create_or_fetch_view(
        self, principal: Principal, program_id: str, body: MemberCreate, base_url: str
    ) -> tuple[MemberView, bool]:
        """``create_or_fetch`` answered as the API object, and whether the member is new.

        An existing member that the call leaves as it is (no external id to link, no device to
        fill in) is read without the ORM: the program and the members in one Core statement,
        the object assembled from the stored values. Any other outcome (a new member, a change,
        a conflict found on the way) is ``create_or_fetch``'s, which reads them again.
        """

        async def load(
            workspace_id: str, livemode: bool, row_id: str
        ) -> Identified[dict[str, Any]] | None:
            return await self.members.identify_stored(
                workspace_id, livemode, row_id, **_identities(body)
            )

        by_external, by_email = await owned(
            principal, program_id, prefix="prog", noun="program", load=load
        )
        named = _named(body, _stored_identity(by_external), _stored_identity(by_email))
        stored = by_external if named is _BY_EXTERNAL_ID else by_email if named else None
        if (
            stored is not None
            and named is not _BY_EMAIL_LINKING
            and not _device_to_fill(body, stored["ip"], stored["visitor_id"])
        ):
            view = stored_member_view(stored, base_url)
            if view is not None:
                return view, False
        result = await self.create_or_fetch(principal, program_id, body)
        return member_view(result.member, base_url), result.created

    async def create_or_fetch(
        self, principal: Principal, program_id: str, body: MemberCreate
    ) -> MemberResult:
        existing = await self._one_of(body, *await self._identified(principal, program_id, body))
        if existing is not None:
            await self._fill_device(existing, body)
            return MemberResult(existing, created=False)
        if body.referral_code and await self.links.code_taken(code_key(body.referral_code)):
            raise Conflict(f"The referral code {body.referral_code!r} is already in use.")
        for attempt in range(_CODE_ATTEMPTS):
            code = body.referral_code or generate_code(body.name or body.email, 4 + attempt // 2)
            if not body.referral_code and await self.links.code_taken(code_key(code)):
                continue
            member = self._new_member(principal, program_id, body, code)
            try:
                async with self.session.begin_nested():
                    await self.members.add(member)
                    # Its default link shares the code (one code space for /r/{code}).
                    await self.links.create_default(member)
                await self._emit(member, "member.created")
                return MemberResult(member, created=True)
            except IntegrityError:
                winner = await self._existing(principal.workspace_id, program_id, body)
                if winner is not None:
                    await self._fill_device(winner, body)
                    return MemberResult(winner, created=False)
                if body.referral_code:
                    raise Conflict(
                        f"The referral code {body.referral_code!r} is already in use."
                    ) from None
        raise Conflict("Could not allocate a unique referral code; try again.")

    async def _fill_device(self, member: Member, body: MemberCreate) -> None:
        """Record the referrer's device (fraud checks only) where nothing was known yet.

        Not shown in the API, so no ``member.updated`` webhook (``updated_at`` does move).
        """
        if not _device_to_fill(body, member.ip, member.visitor_id):
            return
        changed = False
        if body.ip is not None and member.ip is None:
            member.ip, changed = body.ip, True
        if body.visitor_id is not None and member.visitor_id is None:
            member.visitor_id, changed = body.visitor_id, True
        if changed:
            await self.session.flush()

    def _new_member(
        self, principal: Principal, program_id: str, body: MemberCreate, code: str
    ) -> Member:
        now = utcnow()
        return Member(
            id=new_id("mem"),
            workspace_id=principal.workspace_id,
            livemode=principal.livemode,
            program_id=program_id,
            email=body.email,
            email_key=identity_email(body.email) if body.email else None,
            email_canonical=canonical_email(body.email) if body.email else None,
            external_id=body.external_id,
            name=body.name,
            referral_code=code,
            code_key=code_key(code),
            status=MemberStatus.active.value,
            metadata_=body.metadata,
            ip=body.ip,
            visitor_id=body.visitor_id,
            created_at=now,
            updated_at=now,
        )

    async def update(self, principal: Principal, member_id: str, body: MemberUpdate) -> Member:
        member = await self.get(principal, member_id)
        changes: dict[str, Any] = body.model_dump(exclude_unset=True)
        if "email" in changes and changes["email"] != member.email:
            email = changes["email"]
            if email is not None:
                other = await self.members.by_email(
                    member.workspace_id, member.program_id, identity_email(email)
                )
                if other is not None and other.id != member.id:
                    raise Conflict(
                        f"Member {other.id} already has this email.", existing_id=other.id
                    )
            member.email = email
            member.email_key = identity_email(email) if email else None
            member.email_canonical = canonical_email(email) if email else None
        if "external_id" in changes and changes["external_id"] != member.external_id:
            external_id = changes["external_id"]
            if external_id is not None:
                other = await self.members.by_external_id(
                    member.workspace_id, member.program_id, external_id
                )
                if other is not None and other.id != member.id:
                    raise Conflict(
                        f"Member {other.id} already has this external_id.", existing_id=other.id
                    )
            member.external_id = external_id
        if member.email is None and member.external_id is None:
            raise Conflict("A member needs an email or an external_id; both cannot be removed.")
        code = changes.get("referral_code")
        if code is not None and code_key(code) != member.code_key:
            if await self.links.code_taken(code_key(code)):
                raise Conflict(f"The referral code {code!r} is already in use.")
            member.referral_code, member.code_key = code, code_key(code)
        elif code is not None:
            member.referral_code = code  # same code, other letter case
        if "name" in changes:
            member.name = changes["name"]
        if "status" in changes:
            member.status = changes["status"].value
        if "metadata" in changes:
            member.metadata_ = changes["metadata"]
        member.updated_at = utcnow()
        try:
            async with self.session.begin_nested():
                await self.session.flush()
                if code is not None:
                    await self.links.member_code_changed(member)
        except IntegrityError:
            raise Conflict("The change collides with another member.") from None
        await self._emit(member, "member.updated")
        return member

    async def erase(self, principal: Principal, member_id: str) -> None:
        """Delete a member: personal data is erased; the row stays as a tombstone (see model).

        Copies of it elsewhere (their device's clicks and events, fraud evidence, webhook
        bodies, stored responses) are erased by ``PrivacyService``, which records the erasure.
        """
        member = await self.get(principal, member_id)
        traces = MemberTraces(
            id=member.id,
            email=member.email,
            email_key=member.email_key,
            email_canonical=member.email_canonical,
            external_id=member.external_id,
            name=member.name,
            ip=member.ip,
            visitor_id=member.visitor_id,
            metadata=dict(member.metadata_ or {}),
        )
        member.email = member.email_key = member.email_canonical = None
        member.external_id = None
        member.name = None
        member.ip = member.visitor_id = None
        member.metadata_ = {}
        member.status = MemberStatus.disabled.value
        member.deleted_at = member.updated_at = utcnow()
        await self.session.flush()
        await PrivacyService(self.session).erase_member(principal, traces)
        await self._emit(member, "member.deleted")
        await self.links.archive_member_links(member)

    async def _emit(self, member: Member, event_type: str) -> None:
        data = member_view(member, base_url_of(self.session)).model_dump(mode="json")
        await WebhookService(self.session).emit(
            member.workspace_id, member.livemode, event_type, data
        )


_BY_EXTERNAL_ID = "by external id"
_BY_EMAIL = "by email"
_BY_EMAIL_LINKING = "by email, linking the external id"


def _named(
    body: MemberCreate,
    by_external: tuple[str, str | None] | None,
    by_email: tuple[str, str | None] | None,
) -> str | None:
    """Which found member ``body`` names, from the ``(id, external_id)`` of the members with
    its external id and with its email: ``_BY_EXTERNAL_ID``, ``_BY_EMAIL``,
    ``_BY_EMAIL_LINKING`` (the body's external id is to be recorded on the email's member), or
    None (a new member); Conflict when they are two people."""
    if body.email is None:
        return _BY_EXTERNAL_ID if by_external is not None else None
    if by_external is not None:
        # The two identifiers name two different people: answering with either would hand
        # one caller's user the other's referral code.
        if by_email is not None and by_email[0] != by_external[0]:
            raise Conflict(
                f"The external_id belongs to member {by_external[0]} but the email to "
                f"member {by_email[0]}.",
                existing_id=by_email[0],
            )
        return _BY_EXTERNAL_ID
    if by_email is None:
        return None
    email_id, email_external_id = by_email
    if body.external_id and email_external_id not in (None, body.external_id):
        raise Conflict(
            f"Member {email_id} already has this email with another external_id.",
            existing_id=email_id,
        )
    if body.external_id and email_external_id is None:
        return _BY_EMAIL_LINKING
    return _BY_EMAIL


def _identity(member: Member | None) -> tuple[str, str | None] | None:
    return None if member is None else (member.id, member.external_id)


def _stored_identity(values: dict[str, Any] | None) -> tuple[str, str | None] | None:
    return None if values is None else (values["id"], values["external_id"])


def _identities(body: MemberCreate) -> dict[str, str | None]:
    """The identities ``body`` names a member by, as ``MemberRepository.identify`` takes them."""
    return {
        "external_id": body.external_id or None,
        "email_key": identity_email(body.email) if body.email is not None else None,
    }


def _device_to_fill(body: MemberCreate, ip: str | None, visitor_id: str | None) -> bool:
    """Whether ``body`` records a device detail the member has none of (``_fill_device``)."""
    return (body.ip is not None and ip is None) or (
        body.visitor_id is not None and visitor_id is None
    )
