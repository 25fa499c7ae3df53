"""Programs: create, read, update (with nested settings merged), delete."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import Conflict, Unprocessable
from referkit.kit.ids import new_id
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.schemas import RequestModel
from referkit.kit.tenancy import owned
from referkit.kit.time import utcnow
from referkit.link.changes import link_changes
from referkit.mobile.service import AppService
from referkit.models import Program
from referkit.program.repository import ProgramRepository
from referkit.program.schemas import (
    Attribution,
    EmbedSettings,
    Fraud,
    ProgramCreate,
    ProgramStatus,
    ProgramUpdate,
    Qualification,
    RewardRuleInput,
)
from referkit.program.schemas import Program as ProgramOut
from referkit.webhook.service import WebhookService

_MERGED: dict[str, type[RequestModel]] = {
    "attribution": Attribution,
    "qualification": Qualification,
    "fraud": Fraud,
    "embed": EmbedSettings,
}


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:60] or "program"


def _rules(inputs: list[RewardRuleInput], existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    known = {rule["id"] for rule in existing}
    out = []
    for rule in inputs:
        if rule.id is not None and rule.id not in known:
            raise Unprocessable(
                f"reward rule {rule.id} does not belong to this program",
                errors=[
                    {
                        "field": "reward_rules.id",
                        "in": "body",
                        "message": "unknown rule id",
                        "type": "value_error",
                    }
                ],
            )
        data = rule.model_dump(mode="json")
        data["id"] = rule.id or new_id("rule")
        out.append(data)
    return out


class ProgramService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.programs = ProgramRepository(session)

    async def get(self, principal: Principal, program_id: str) -> Program:
        return await owned(
            principal, program_id, prefix="prog", noun="program", load=self.programs.get
        )

    async def read(self, principal: Principal, program_id: str) -> Row[Any]:
        """``get`` as a plain row of the program's columns: what answering a read needs."""
        return await owned(
            principal, program_id, prefix="prog", noun="program", load=self.programs.row
        )

    async def list(
        self, principal: Principal, status: ProgramStatus | None, params: PageParams
    ) -> tuple[list[Program], PageMeta]:
        return await self.programs.page(
            principal.workspace_id, principal.livemode, status.value if status else None, params
        )

    async def _app_id(self, principal: Principal, app_id: str | None) -> str | None:
        if app_id is None:
            return None
        return (await AppService(self.session).referenced(principal, app_id)).id

    async def _free_slug(self, principal: Principal, base: str) -> str:
        slug, n = base, 1
        while await self.programs.slug_taken(principal.workspace_id, principal.livemode, slug):
            n += 1
            slug = f"{base[:70]}-{n}"
        return slug

    async def create(self, principal: Principal, body: ProgramCreate) -> Program:
        app_id = await self._app_id(principal, body.app_id)
        if body.slug is not None:
            if await self.programs.slug_taken(
                principal.workspace_id, principal.livemode, body.slug
            ):
                raise Conflict(f"A program with slug {body.slug!r} already exists.")
            slug = body.slug
        else:
            slug = await self._free_slug(principal, slugify(body.name))
        now = utcnow()
        program = Program(
            id=new_id("prog"),
            workspace_id=principal.workspace_id,
            livemode=principal.livemode,
            name=body.name,
            slug=slug,
            status=body.status.value,
            landing_url=body.landing_url,
            app_id=app_id,
            allowed_origins=body.allowed_origins,
            embed=body.embed.model_dump(mode="json", exclude_none=True),
            attribution=body.attribution.model_dump(mode="json"),
            qualification=body.qualification.model_dump(mode="json"),
            reward_rules=_rules(body.reward_rules, []),
            fraud=body.fraud.model_dump(mode="json"),
            auto_issue=body.auto_issue,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.session.begin_nested():
                await self.programs.add(program)
        except IntegrityError:
            raise Conflict(f"A program with slug {slug!r} already exists.") from None
        await self._emit(program, "program.created")
        return program

    async def update(self, principal: Principal, program_id: str, body: ProgramUpdate) -> Program:
        program = await self.get(principal, program_id)
        changes = body.model_dump(mode="json", exclude_unset=True)
        if changes.get("app_id") is not None:
            await self._app_id(principal, changes["app_id"])
        new_slug = changes.get("slug")
        if (
            new_slug
            and new_slug != program.slug
            and await self.programs.slug_taken(principal.workspace_id, principal.livemode, new_slug)
        ):
            raise Conflict(f"A program with slug {changes['slug']!r} already exists.")
        for name, schema in _MERGED.items():
            if name in changes:
                merged = {**getattr(program, name), **changes.pop(name)}
                try:
                    validated = schema.model_validate(merged)
                except ValueError as exc:
                    raise Unprocessable(f"{name}: {exc}") from None
                setattr(program, name, validated.model_dump(mode="json"))
        if "reward_rules" in changes:
            assert body.reward_rules is not None
            program.reward_rules = _rules(body.reward_rules, program.reward_rules)
            changes.pop("reward_rules")
        if "landing_url" in changes and changes["landing_url"] != program.landing_url:
            link_changes(self.session).programs.add(program.id)  # member links follow it
        for name, value in changes.items():
            setattr(program, name, value)
        program.updated_at = utcnow()
        await self.session.flush()
        await self._emit(program, "program.updated")
        return program

    async def delete(self, principal: Principal, program_id: str) -> None:
        program = await self.get(principal, program_id)
        await self._emit(program, "program.deleted")
        await self.programs.delete(program)
        link_changes(self.session).programs.add(program.id)  # its links went with it

    async def _emit(self, program: Program, event_type: str) -> None:
        data = ProgramOut.model_validate(program).model_dump(mode="json")
        await WebhookService(self.session).emit(
            program.workspace_id, program.livemode, event_type, data
        )
