"""Referrals: attribute a referred friend to a referrer, refuse what must be refused, and move
the referral through its states.

Checks run in a fixed order so the answer is predictable: who referred (code, member id or
click) → program and member are active → self-referral → duplicate referee → fraud signals.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any, TypedDict, Unpack

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.attribution.service import AttributionService, Decision
from referkit.auth.principal import Principal
from referkit.errors import Conflict, NotFound, Unprocessable
from referkit.fraud import signals as fraud_signals
from referkit.fraud.signals import Fingerprint
from referkit.kit.email import canonical_email, identity_email
from referkit.kit.ids import new_id
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.tenancy import owned
from referkit.kit.time import as_utc, utcnow
from referkit.member.service import MemberService
from referkit.models import Member, Program, Referral
from referkit.program.service import ProgramService
from referkit.referral.repository import ReferralFilters, ReferralRepository
from referkit.referral.schemas import (
    AttributionMethod,
    ReferralCreate,
    ReferralUpdate,
    referral_view,
    referral_views,
)
from referkit.referral.schemas import Referral as ReferralView
from referkit.referral.states import ReferralStatus, plan
from referkit.reward.service import Purchase, RewardService
from referkit.stats.dimensions import DimensionBuffer, groups_of_click, record_dimensions
from referkit.stats.rollups import RollupBuffer, record
from referkit.webhook.service import WebhookService

REFERRER_EVENTS_CHECKED = 50
"""How many of the referrer's latest events the same-device check looks at."""


class ReferralSearch(TypedDict):
    """A referral search's filters as callers give them (``search``, ``search_views``)."""

    program_id: str | None
    member_id: str | None
    status: ReferralStatus | None
    q: str | None
    created_after: datetime | None
    created_before: datetime | None


def _filters(search: ReferralSearch) -> ReferralFilters:
    """A search's filters as the repository takes them."""
    status, after, before = search["status"], search["created_after"], search["created_before"]
    return ReferralFilters(
        program_id=search["program_id"],
        member_id=search["member_id"],
        status=status.value if status else None,
        q=search["q"],
        created_after=as_utc(after) if after else None,
        created_before=as_utc(before) if before else None,
    )


def _field_error(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "in": "body", "message": message, "type": "value_error"}]


class ReferralService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.referrals = ReferralRepository(session)

    # Made when first used: a read (a page of referrals) needs neither.
    @functools.cached_property
    def members(self) -> MemberService:
        return MemberService(self.session)

    @functools.cached_property
    def programs(self) -> ProgramService:
        return ProgramService(self.session)

    async def get(self, principal: Principal, referral_id: str) -> Referral:
        return await owned(
            principal, referral_id, prefix="ref", noun="referral", load=self.referrals.get
        )

    async def for_referee(
        self,
        principal: Principal,
        program_id: str | None,
        email: str | None,
        external_id: str | None,
    ) -> Referral | None:
        """The referral of this person (in ``program_id`` if given), if any."""
        email_key = identity_email(email) if email else None
        if program_id is not None:
            found = await self.referrals.existing_referee(
                principal.workspace_id, program_id, email_key, external_id
            )
            return found
        return await self.referrals.latest_for_referee(
            principal.workspace_id, principal.livemode, email_key, external_id
        )

    async def search(
        self, principal: Principal, params: PageParams, **search: Unpack[ReferralSearch]
    ) -> tuple[list[Referral], PageMeta]:
        return await self.referrals.page(
            principal.workspace_id, principal.livemode, params, **_filters(search)
        )

    async def search_views(
        self, principal: Principal, params: PageParams, **search: Unpack[ReferralSearch]
    ) -> tuple[list[ReferralView], PageMeta]:
        """The page ``search`` finds, as API objects (``referral_view`` of each)."""
        rows, meta = await self.referrals.page_views(
            principal.workspace_id,
            principal.livemode,
            params,
            **_filters(search),
        )
        return referral_views(rows), meta

    async def _referrer(
        self, principal: Principal, body: ReferralCreate
    ) -> tuple[Member, AttributionMethod, str | Decision]:
        if body.click_id is not None:
            click, decision = await AttributionService(self.session).referral_click(
                principal, body.click_id, utcnow(), body.program_id
            )
            assert click.member_id is not None
            try:
                member = await self.members.get(principal, click.member_id)
            except NotFound:
                raise Unprocessable(
                    f"The referrer of click {click.id} was deleted.",
                    code="click_not_attributable",
                    errors=_field_error("click_id", "the referrer was deleted"),
                ) from None
            return member, AttributionMethod.click_id, decision
        if body.member_id is not None:
            try:
                member = await self.members.get(principal, body.member_id)
            except NotFound:
                raise Unprocessable(
                    f"No member {body.member_id} in this workspace.",
                    errors=_field_error("member_id", "unknown member"),
                ) from None
            return (
                member,
                AttributionMethod.member_id,
                (f"Member {member.id} was named directly (member_id) in the request."),
            )
        assert body.referral_code is not None
        found = await self.members.by_code(principal, body.referral_code)
        if found is None:
            raise Unprocessable(
                f"No member has the referral code {body.referral_code!r}.",
                code="unknown_referral_code",
                errors=_field_error("referral_code", "unknown referral code"),
            )
        return (
            found,
            AttributionMethod.code,
            (
                f"Referral code {found.referral_code} (sent in the request) belongs to member "
                f"{found.id}."
            ),
        )

    @staticmethod
    def _self_match(member: Member, body: ReferralCreate) -> str | None:
        """``email`` or ``external_id`` when the referee is the referrer, else None."""
        referee = body.referee
        if (
            referee.email is not None
            and member.email_canonical is not None
            and canonical_email(referee.email) == member.email_canonical
        ):
            return "email"
        if referee.external_id is not None and referee.external_id == member.external_id:
            return "external_id"
        return None

    def _check_self_referral(self, program: Program, member: Member, body: ReferralCreate) -> None:
        """With ``fraud.self_referral`` on (the default) a self-referral is refused outright;
        with it off, ``_assess_fraud`` flags or blocks it like any other signal."""
        if not program.fraud.get("self_referral", True):
            return
        matched = self._self_match(member, body)
        if matched is not None:
            raise Unprocessable(
                f"The referee is the referrer (same normalized {matched}).",
                code="self_referral",
                errors=_field_error(f"referee.{matched}", "matches the referrer"),
            )

    async def create(
        self,
        principal: Principal,
        body: ReferralCreate,
        *,
        decided: Decision | None = None,
        origin: str = "request",
    ) -> Referral:
        """Create a pending referral; ``decided`` is an attribution already made (events),
        ``origin`` where the body's IP and visitor id come from (fraud evidence)."""
        member, method, explanation = await self._referrer(principal, body)
        if decided is not None:
            explanation = decided
            method = AttributionMethod(decided.method or method.value)
        program = await self.programs.get(principal, member.program_id)
        if body.program_id is not None and body.program_id != program.id:
            raise Unprocessable(
                f"The referrer belongs to program {program.id}, not {body.program_id}.",
                errors=_field_error("program_id", "does not match the referrer's program"),
            )
        if program.status != "active":
            raise Unprocessable(
                f"Program {program.id} is {program.status}.", code="program_inactive"
            )
        if member.status != "active":
            raise Unprocessable(f"Member {member.id} is disabled.", code="member_disabled")
        self._check_self_referral(program, member, body)
        email_key = identity_email(body.referee.email) if body.referee.email else None
        existing = await self.referrals.existing_referee(
            program.workspace_id, program.id, email_key, body.referee.external_id
        )
        if existing is not None:
            raise Conflict(
                f"This referee was already referred in this program ({existing.id}).",
                existing_id=existing.id,
            )
        now = utcnow()
        click_id = None if isinstance(explanation, str) else explanation.click_id
        referee = await self._referee_devices(principal, body, click_id, origin)
        fraud = await self._assess_fraud(program, member, body, referee, now)
        attribution = program.attribution
        referral = Referral(
            id=new_id("ref"),
            workspace_id=principal.workspace_id,
            livemode=principal.livemode,
            program_id=program.id,
            member_id=member.id,
            referee_email=body.referee.email,
            referee_email_key=email_key,
            referee_external_id=body.referee.external_id,
            referee_name=body.referee.name,
            status=ReferralStatus.pending.value,
            attribution={
                "method": method.value,
                "click_id": None if isinstance(explanation, str) else explanation.click_id,
                "link_id": None if isinstance(explanation, str) else explanation.link_id,
                "model": attribution.get("model", "last_click"),
                "window_days": attribution.get("window_days", 30),
                "explanation": (
                    explanation if isinstance(explanation, str) else explanation.explanation
                ),
                "candidates": [] if isinstance(explanation, str) else explanation.candidates,
            },
            fraud=fraud,
            status_history=[{"status": "pending", "at": now.isoformat(), "note": None}],
            ip=body.ip,
            user_agent=body.user_agent,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.session.begin_nested():
                await self.referrals.add(referral)
        except IntegrityError:
            winner = await self.referrals.existing_referee(
                program.workspace_id, program.id, email_key, body.referee.external_id
            )
            raise Conflict(
                "This referee was already referred in this program.",
                existing_id=winner.id if winner else None,
            ) from None
        counts = RollupBuffer()
        counts.add(
            workspace_id=referral.workspace_id,
            livemode=referral.livemode,
            at=now,
            program_id=referral.program_id,
            member_id=referral.member_id,
            link_id=referral.attribution.get("link_id"),
            referrals=1,
        )
        await record(self.session, counts)
        await self._count_signup(referral, now)
        await self._emit(referral, "referral.created")
        await RewardService(self.session).on_referral_created(program, referral)
        return referral

    async def _referee_devices(
        self, principal: Principal, body: ReferralCreate, click_id: str | None, origin: str
    ) -> list[Fingerprint]:
        """What is known of the referee's device: the attributed click's visitor id, and the
        IP and visitor id sent with the referral (or its signup event)."""
        found = []
        if click_id is not None:
            visitor_id = await self.referrals.click_visitor_id(
                principal.workspace_id, principal.livemode, click_id
            )
            if visitor_id:
                found.append(Fingerprint(f"click {click_id}", visitor_id=visitor_id))
        if body.ip or body.visitor_id:
            found.append(Fingerprint(origin, ip=body.ip, visitor_id=body.visitor_id))
        return found

    async def _referrer_devices(self, member: Member) -> list[Fingerprint]:
        """The referrer's own devices: those given with the member, and those of the referrer's
        latest events as a customer (same external id or email) and of those events' clicks."""
        found = [Fingerprint("member", ip=member.ip, visitor_id=member.visitor_id)]
        for seen in await self.referrals.customer_sightings(
            member.workspace_id,
            member.livemode,
            member.external_id,
            member.email_key,
            REFERRER_EVENTS_CHECKED,
        ):
            found.append(Fingerprint(f"event {seen.event_id}", seen.ip, seen.visitor_id))
            if seen.click_visitor_id:
                found.append(
                    Fingerprint(
                        f"click {seen.click_id} (event {seen.event_id})",
                        visitor_id=seen.click_visitor_id,
                    )
                )
        return found

    async def _assess_fraud(
        self,
        program: Program,
        member: Member,
        body: ReferralCreate,
        referee: list[Fingerprint],
        now: datetime,
    ) -> dict[str, Any]:
        """The referral's fraud verdict; in ``block`` mode any signal refuses it (422)."""
        settings = program.fraud
        last_hour = await self.referrals.count_by_member_since(
            member.workspace_id, member.id, now - timedelta(hours=1)
        )
        last_day = await self.referrals.count_by_member_since(
            member.workspace_id, member.id, now - timedelta(days=1)
        )
        same_device = []
        if referee and settings.get("same_device", True):
            referrer = await self._referrer_devices(member)
            same_device = fraud_signals.same_device_signals(settings, referee, referrer)
        matched = self._self_match(member, body)
        signals = [
            *fraud_signals.self_referral_signals(matched),
            *fraud_signals.email_signals(settings, body.referee.email),
            *fraud_signals.ip_signals(settings, body.ip),
            *fraud_signals.velocity_signals(settings, last_hour, last_day),
            *same_device,
        ]
        verdict = {
            "risk": fraud_signals.risk_of(signals),
            "signals": [signal.as_dict() for signal in signals],
        }
        if signals and settings.get("mode", "flag") == "block":
            raise Unprocessable(
                "The referral was refused by the program's fraud rules: "
                + ", ".join(sorted({signal.code for signal in signals}))
                + ".",
                code="fraud_blocked",
                risk=verdict["risk"],
                signals=verdict["signals"],
            )
        return verdict

    async def update(
        self,
        principal: Principal,
        referral_id: str,
        body: ReferralUpdate,
        *,
        purchase: Purchase | None = None,
    ) -> Referral:
        """Change status/note. ``purchase`` is the qualifying purchase when an event qualifies
        the referral (percentage rewards and refund clawbacks need it)."""
        referral = await self.get(principal, referral_id)
        previous_status = referral.status
        now = utcnow()
        if "note" in body.model_fields_set:
            referral.note = body.note
        if body.status is not None:
            steps = plan(ReferralStatus(referral.status), body.status)
            history: list[dict[str, Any]] = list(referral.status_history)
            counts = RollupBuffer()
            for step in steps:
                self._count(counts, referral, step, now)
                first_qualification = (
                    step is ReferralStatus.qualified and referral.qualified_at is None
                )
                self._enter(referral, step, now)
                history.append({"status": step.value, "at": now.isoformat(), "note": body.note})
                await self._reward(referral, step, first_qualification, purchase)
            referral.status_history = history
            await record(self.session, counts)
        referral.updated_at = now
        await self.session.flush()
        await self._emit(referral, "referral.updated")
        if referral.status != previous_status:
            await self._emit(referral, "referral.status_changed")
        return referral

    async def delete(self, principal: Principal, referral_id: str) -> None:
        """Delete a referral (a lead entered by mistake). Pending rewards are cancelled, a
        referral with issued rewards is refused; counts already in the rollups stay."""
        referral = await self.get(principal, referral_id)
        await RewardService(self.session).on_referral_removed(referral)
        await self._emit(referral, "referral.deleted")
        await self.referrals.delete(referral)

    async def _reward(
        self,
        referral: Referral,
        step: ReferralStatus,
        first_qualification: bool,
        purchase: Purchase | None,
    ) -> None:
        rewards = RewardService(self.session)
        if first_qualification:
            program = await self.session.get(Program, (referral.workspace_id, referral.program_id))
            assert program is not None
            await self.session.flush()  # the milestone count must see this qualification
            await rewards.on_referral_qualified(program, referral, purchase)
        elif step in (ReferralStatus.approved, ReferralStatus.denied):
            await rewards.on_referral_status(referral, step.value)

    async def _count_signup(self, referral: Referral, now: datetime) -> None:
        """The signup in the breakdowns of the referral's link and program, under the groups
        of the click it was attributed to (unknown groups when attributed by code)."""
        link_id = referral.attribution.get("link_id")
        groups = await groups_of_click(
            self.session,
            referral.workspace_id,
            referral.livemode,
            referral.attribution.get("click_id"),
        )
        buffer = DimensionBuffer()
        buffer.add(
            workspace_id=referral.workspace_id,
            livemode=referral.livemode,
            day=now.date(),
            program_id=referral.program_id,
            link_id=link_id,
            groups=groups,
            signups=1,
        )
        await record_dimensions(self.session, buffer)

    async def _emit(self, referral: Referral, event_type: str) -> None:
        data = referral_view(referral).model_dump(mode="json")
        await WebhookService(self.session).emit(
            referral.workspace_id, referral.livemode, event_type, data
        )

    @staticmethod
    def _count(
        counts: RollupBuffer, referral: Referral, step: ReferralStatus, now: datetime
    ) -> None:
        """Qualified referrals: +1 on qualification, -1 (on that day) when denied after it."""
        if step is ReferralStatus.qualified:
            at, delta = now, 1
        elif step is ReferralStatus.denied and referral.status == ReferralStatus.qualified.value:
            at, delta = referral.qualified_at or now, -1
        else:
            return
        counts.add(
            workspace_id=referral.workspace_id,
            livemode=referral.livemode,
            at=at,
            program_id=referral.program_id,
            member_id=referral.member_id,
            qualified=delta,
        )

    @staticmethod
    def _enter(referral: Referral, status: ReferralStatus, now: datetime) -> None:
        referral.status = status.value
        if status is ReferralStatus.qualified and referral.qualified_at is None:
            referral.qualified_at = now
        elif status is ReferralStatus.approved:
            referral.approved_at = now
        elif status is ReferralStatus.denied:
            referral.denied_at = now
        elif status is ReferralStatus.pending:
            referral.denied_at = None
