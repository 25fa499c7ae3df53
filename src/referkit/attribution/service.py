"""Attribution: which click, link and referrer an event or referral is credited to, and why.

Sources are tried in a fixed order — an explicit click id, then the visitor cookie (``rk_vid``,
forwarded as ``visitor_id``), then a referral code — and the first that yields an acceptable
candidate wins. A click counts only within its program's ``attribution.window_days``; among a
visitor's clicks the program's ``model`` picks the first or the last. The decision keeps every
candidate considered, the rule that won, the window and the model, and a sentence explaining it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.attribution.repository import ClickRepository
from referkit.auth.principal import Principal
from referkit.errors import NotFound, Unprocessable
from referkit.kit.ids import looks_like_id
from referkit.models import Click, Member, Program
from referkit.program.service import ProgramService

_MAX_WINDOW_DAYS = 365


@dataclass
class Decision:
    method: str | None = None
    click_id: str | None = None
    link_id: str | None = None
    member_id: str | None = None
    program_id: str | None = None
    model: str | None = None
    window_days: int | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    explanation: str = "Nothing identified a click, a visitor or a referral code."

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "click_id": self.click_id,
            "link_id": self.link_id,
            "member_id": self.member_id,
            "program_id": self.program_id,
            "model": self.model,
            "window_days": self.window_days,
            "candidates": self.candidates,
            "explanation": self.explanation,
        }


def _rules(program: Program | None) -> tuple[str, int]:
    settings = program.attribution if program is not None else {}
    return str(settings.get("model", "last_click")), int(settings.get("window_days", 30))


class AttributionService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.clicks = ClickRepository(session)
        self.programs = ProgramService(session)
        self._program_cache: dict[str, Program | None] = {}

    async def _program(self, principal: Principal, program_id: str | None) -> Program | None:
        if program_id is None:
            return None
        if program_id not in self._program_cache:
            try:
                self._program_cache[program_id] = await self.programs.get(principal, program_id)
            except NotFound:
                self._program_cache[program_id] = None
        return self._program_cache[program_id]

    async def click(self, principal: Principal, click_id: str) -> Click | None:
        if not looks_like_id(click_id, "clk"):
            return None
        return await self.clicks.get(principal.workspace_id, principal.livemode, click_id)

    async def _judge(
        self, principal: Principal, click: Click, at: datetime, program_id: str | None
    ) -> tuple[dict[str, Any], Program | None]:
        program = await self._program(principal, click.program_id)
        _, window = _rules(program)
        candidate: dict[str, Any] = {
            "click_id": click.id,
            "link_id": click.link_id,
            "member_id": click.member_id,
            "program_id": click.program_id,
            "clicked_at": click.created_at.isoformat(),
            "accepted": False,
        }
        if click.is_orphan or click.link_id is None:
            candidate["reason"] = "the click hit an unknown or expired code"
        elif click.program_id is not None and program is None:
            # Deleting a program deletes its members and links; their clicks stay in the log.
            candidate["reason"] = f"program {click.program_id} was deleted"
        elif click.is_bot:
            candidate["reason"] = "the click came from a bot"
        elif program_id is not None and click.program_id != program_id:
            candidate["reason"] = f"the click belongs to program {click.program_id}"
        elif click.created_at > at:
            candidate["reason"] = "the click happened after the conversion"
        elif at - click.created_at > timedelta(days=window):
            candidate["reason"] = f"the click is older than the {window}-day window"
        else:
            candidate["accepted"] = True
        return candidate, program

    def _won(
        self, decision: Decision, method: str, click: Click, program: Program | None, why: str
    ) -> Decision:
        model, window = _rules(program)
        decision.method = method
        decision.click_id, decision.link_id = click.id, click.link_id
        decision.member_id, decision.program_id = click.member_id, click.program_id
        decision.model, decision.window_days = model, window
        who = f"member {click.member_id}" if click.member_id else f"link {click.link_id}"
        decision.explanation = (
            f"{why} Click {click.id} on link {click.link_id} ({click.created_at:%Y-%m-%d %H:%M} "
            f"UTC) is within the {window}-day window, so it is credited to {who} ({model})."
        )
        return decision

    async def decide(
        self,
        principal: Principal,
        *,
        at: datetime,
        program_id: str | None = None,
        click_id: str | None = None,
        visitor_id: str | None = None,
        referral_code_member: Member | None = None,
        referral_code: str | None = None,
    ) -> Decision:
        """Decide attribution; ``referral_code_member`` is the member owning ``referral_code``."""
        decision = Decision()
        if click_id is not None:
            click = await self.click(principal, click_id)
            if click is None:
                decision.candidates.append(
                    {"click_id": click_id, "accepted": False, "reason": "no such click"}
                )
            else:
                candidate, program = await self._judge(principal, click, at, program_id)
                candidate["source"] = "click_id"
                decision.candidates.append(candidate)
                if candidate["accepted"]:
                    return self._won(
                        decision, "click_id", click, program, "The request named the click."
                    )
        if visitor_id is not None:
            clicks = await self.clicks.for_visitor(
                principal.workspace_id,
                principal.livemode,
                visitor_id,
                at - timedelta(days=_MAX_WINDOW_DAYS),
                at,
            )
            accepted: list[tuple[Click, Program | None]] = []
            for click in clicks:
                candidate, program = await self._judge(principal, click, at, program_id)
                candidate["source"] = "cookie"
                decision.candidates.append(candidate)
                if candidate["accepted"]:
                    accepted.append((click, program))
            if accepted:
                # The model of the program of the latest click decides between them.
                model, _ = _rules(accepted[-1][1])
                click, program = accepted[0] if model == "first_click" else accepted[-1]
                return self._won(
                    decision,
                    "cookie",
                    click,
                    program,
                    f"The visitor cookie matched {len(accepted)} click(s) in the window; "
                    f"{model} picks this one.",
                )
        if referral_code is not None:
            member = referral_code_member
            ok = member is not None and (program_id is None or member.program_id == program_id)
            decision.candidates.append(
                {
                    "source": "code",
                    "referral_code": referral_code,
                    "member_id": member.id if member else None,
                    "accepted": ok,
                    **({} if ok else {"reason": "no member of this program has this code"}),
                }
            )
            if ok and member is not None:
                program = await self._program(principal, member.program_id)
                model, window = _rules(program)
                decision.method = "code"
                decision.member_id, decision.program_id = member.id, member.program_id
                decision.model, decision.window_days = model, window
                decision.explanation = (
                    f"No click qualified; referral code {member.referral_code} belongs to "
                    f"member {member.id}."
                )
                return decision
        if decision.candidates:
            decision.explanation = "No candidate qualified: " + "; ".join(
                str(c.get("reason")) for c in decision.candidates if not c["accepted"]
            )
        return decision

    async def referral_click(
        self, principal: Principal, click_id: str, at: datetime, program_id: str | None
    ) -> tuple[Click, Decision]:
        """The click a referral names, or a 422 saying why it cannot be used."""
        click = await self.click(principal, click_id)
        if click is None:
            raise Unprocessable(
                f"No click {click_id} is stored in this workspace.",
                code="unknown_click",
                errors=[
                    {
                        "field": "click_id",
                        "in": "body",
                        "message": "unknown click",
                        "type": "value_error",
                    }
                ],
            )
        candidate, program = await self._judge(principal, click, at, program_id)
        candidate["source"] = "click_id"
        if candidate["accepted"] and click.member_id is None:
            candidate.update(accepted=False, reason="the link belongs to no referrer")
        if not candidate["accepted"]:
            raise Unprocessable(
                f"Click {click.id} cannot be attributed: {candidate['reason']}.",
                code="click_not_attributable",
                errors=[
                    {
                        "field": "click_id",
                        "in": "body",
                        "message": str(candidate["reason"]),
                        "type": "value_error",
                    }
                ],
            )
        decision = Decision(candidates=[candidate])
        return click, self._won(
            decision, "click_id", click, program, "The request named the click."
        )
