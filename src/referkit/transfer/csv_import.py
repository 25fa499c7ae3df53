"""Members and referrals from a Referral Rock or Referral Factory CSV export.

Each row goes through the domain services, exactly as an API call would: members are
created or fetched (so importing twice adds nothing), referrals are attributed to the
referrer the row names and checked like any referral. Neither product documents its export
columns publicly, so headers are matched by the names both use in their UI and API
(case, spaces and underscores ignored); ``HEADERS`` lists them.

A row is a referral when it names its referrer (a referrer code or email column, or Referral
Factory's ``type: person_invited``); otherwise it is a member.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal, Scope
from referkit.errors import Conflict, NotFound, ReferkitError
from referkit.kit.pagination import PageParams
from referkit.member.schemas import MemberCreate
from referkit.member.service import MemberService
from referkit.models import Member
from referkit.program.service import ProgramService
from referkit.referral.schemas import ReferralCreate, ReferralUpdate
from referkit.referral.service import ReferralService
from referkit.referral.states import ReferralStatus
from referkit.transfer.repository import TransferRepository
from referkit.transfer.service import ImportResult


class Source(StrEnum):
    referral_rock = "referral-rock"
    referral_factory = "referral-factory"


HEADERS: dict[str, tuple[str, ...]] = {
    "first_name": ("firstname", "first"),
    "last_name": ("lastname", "last"),
    "name": ("name", "fullname", "displayname"),
    "email": ("email", "emailaddress"),
    "external_id": ("externalidentifier", "externalid", "userid"),
    "code": ("referralcode", "code", "membercode"),
    "referrer_code": (
        "referringmemberreferralcode",
        "memberreferralcode",
        "referrercode",
        "referredbycode",
    ),
    "referrer_email": ("referringmemberemail", "memberemail", "referreremail", "referredby"),
    "status": ("status", "referralstatus"),
    "qualified": ("qualified",),
    "type": ("type", "usertype"),
}


def _key(header: str) -> str:
    return re.sub(r"[\s_\-]", "", header.strip().lower())


def normalize(row: dict[str, Any]) -> dict[str, str]:
    by_key = {_key(k): (v or "").strip() for k, v in row.items() if k is not None}
    out: dict[str, str] = {}
    for field, names in HEADERS.items():
        for name in names:
            if by_key.get(name):
                out[field] = by_key[name]
                break
    return out


def is_referral(row: dict[str, str]) -> bool:
    return bool(
        row.get("type") == "person_invited" or row.get("referrer_code") or row.get("referrer_email")
    )


def _status(row: dict[str, str]) -> ReferralStatus | None:
    if row.get("qualified", "").lower() in ("true", "yes", "1"):
        return ReferralStatus.qualified
    value = row.get("status", "").lower()
    return ReferralStatus(value) if value in ReferralStatus.__members__ else None


class CsvImporter:
    def __init__(self, session: AsyncSession, source: Source) -> None:
        self.session = session
        self.source = source
        self.members = MemberService(session)
        self.referrals = ReferralService(session)

    async def run(
        self,
        lines: Iterable[str],
        workspace: str,
        program_id: str,
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        found = await TransferRepository(self.session).workspace(workspace)
        if found is None:
            raise NotFound(f"No workspace {workspace!r}.")
        principal = Principal(workspace_id=found.id, key_id="cli", scope=Scope.full, livemode=True)
        program = await ProgramService(self.session).get(principal, program_id)
        rows = [normalize(r) for r in csv.DictReader(lines)]
        result = ImportResult(workspace_id=found.id)
        # Members first: a referral row may name a referrer listed further down.
        ordered = [r for r in rows if not is_referral(r)] + [r for r in rows if is_referral(r)]
        for done, row in enumerate(ordered, start=1):
            kind = "referrals" if is_referral(row) else "members"
            result.read[kind] = result.read.get(kind, 0) + 1
            try:
                async with self.session.begin_nested():
                    added = await self._row(principal, program.id, row, kind)
            except (ReferkitError, ValidationError, ValueError):
                added = False
                result.read["skipped"] = result.read.get("skipped", 0) + 1
            if added:
                result.inserted[kind] = result.inserted.get(kind, 0) + 1
            if progress is not None:
                progress(done)
        return result

    async def _row(
        self, principal: Principal, program_id: str, row: dict[str, str], kind: str
    ) -> bool:
        name = row.get("name") or " ".join(
            part for part in (row.get("first_name"), row.get("last_name")) if part
        )
        if kind == "members":
            body = MemberCreate(
                email=row.get("email") or None,
                external_id=row.get("external_id") or None,
                name=name or None,
                referral_code=row.get("code") or None,
            )
            return (await self.members.create_or_fetch(principal, program_id, body)).created
        referrer = await self._referrer(principal, program_id, row)
        create = ReferralCreate.model_validate(
            {
                "member_id": referrer.id,
                "referee": {
                    "email": row.get("email") or None,
                    "external_id": row.get("external_id") or None,
                    "name": name or None,
                },
            }
        )
        try:
            referral = await self.referrals.create(principal, create)
        except Conflict:
            return False  # already imported (or already referred here)
        status = _status(row)
        if status not in (None, ReferralStatus.pending):
            await self.referrals.update(principal, referral.id, ReferralUpdate(status=status))
        return True

    async def _referrer(self, principal: Principal, program_id: str, row: dict[str, str]) -> Member:
        code, email = row.get("referrer_code"), row.get("referrer_email")
        if code:
            member = await self.members.by_code(principal, code)
            if member is not None:
                return member
        if email and "@" in email:
            found, _ = await self.members.list(
                principal,
                program_id,
                PageParams(limit=1, cursor_id=None, offset=0),
                q=None,
                status=None,
                email=email,
                external_id=None,
            )
            if found:
                return found[0]
        raise NotFound("The row's referrer is not a member of the program.")
