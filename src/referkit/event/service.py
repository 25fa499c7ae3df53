"""Events: idempotent ingestion with attribution, and what an event does to referrals.

``ingest`` runs inside the event batcher's transaction (one savepoint per event). A ``signup``
attributed to a referrer creates the referral through ``ReferralService`` (same rules as
``POST /referrals``); an event matching the program's ``qualification`` moves the customer's
pending referral to ``qualified``; purchases and refunds add to conversions and revenue. A
business rule that refuses the referral does not refuse the event: the event is stored and its
``outcome`` says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.attribution.service import AttributionService, Decision
from referkit.auth.principal import Principal
from referkit.errors import NotFound, ReferkitError, Unprocessable
from referkit.event.record import EventRecord, StoredEvent
from referkit.event.repository import CustomerRepository, EventRepository
from referkit.event.schemas import Event as EventView
from referkit.event.schemas import EventCreate, EventType
from referkit.kit.email import identity_email
from referkit.kit.ids import new_id
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.time import as_utc, utcnow
from referkit.member.service import MemberService
from referkit.mobile.events import AppEventService, check_client_event
from referkit.models import Customer, Event, Program, Referral
from referkit.program.service import ProgramService
from referkit.referral.schemas import RefereeInput, ReferralCreate, ReferralUpdate
from referkit.referral.service import ReferralService
from referkit.referral.states import ReferralStatus
from referkit.reward.service import Purchase, RewardService
from referkit.stats.dimensions import DimensionBuffer, groups_of_click, record_dimensions
from referkit.stats.rollups import RollupBuffer, record
from referkit.webhook.service import WebhookService


def _field_error(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "in": "body", "message": message, "type": "value_error"}]


@dataclass
class BatchState:
    """Events accepted earlier in the same batch (not yet inserted), by (workspace, mode, id)."""

    pending: dict[tuple[str, bool, str], EventRecord] = field(default_factory=dict)
    rows: list[EventRecord] = field(default_factory=list)
    stored: dict[tuple[str, bool, str], EventRecord] = field(default_factory=dict)
    """Events of this batch's ``event_id``s already in the database (looked up in bulk)."""
    now: datetime = field(default_factory=utcnow)
    """The batch's ``created_at``: its events are committed together."""
    signing_key: bytes = b""
    """The installation's key: app events hash IPs and device ids with it."""
    apps: dict[tuple[str, bool, str], Any] = field(default_factory=dict)
    """Apps the batch's app events named, looked up once per batch."""
    app_clicks: dict[str, Any] = field(default_factory=dict)
    """Clicks the batch's installs may match, read once per app (``AppEventService.prefetch``)."""
    installs: dict[tuple[str, bool, str], tuple[str, bool]] = field(default_factory=dict)
    """The batch's new installs: their row id and whether the device installed before, decided
    for the whole batch in one upsert (``AppEventService.register_devices``)."""


def nothing_to_attribute(body: EventCreate) -> bool:
    """No program, customer, click, cookie or code, and neither a signup nor a refund: nothing
    to look up, decide or count (rollups are per program, member and link)."""
    return (
        body.program_id is None
        and body.app_id is None  # app events are attributed on the session path
        and body.customer is None
        and body.click_id is None
        and body.visitor_id is None
        and body.referral_code is None
        and body.type is not EventType.signup
        and body.type is not EventType.refund
    )


def _record(
    principal: Principal, body: EventCreate, now: datetime, **attributes: Any
) -> EventRecord:
    """The event row for ``body`` as received; ``attributes`` add what was decided."""
    return EventRecord(
        id=new_id("evt"),
        workspace_id=principal.workspace_id,
        livemode=principal.livemode,
        event_id=body.event_id,
        type=body.type.value,
        name=body.name,
        occurred_at=attributes.pop("occurred_at", None) or body.occurred_at or now,
        amount=body.amount,
        currency=body.currency,
        refunded_event_id=body.refunded_event_id,
        properties=body.properties,
        ip=body.ip,
        visitor_id=body.visitor_id,
        user_agent=body.user_agent,
        created_at=now,
        **attributes,
    )


_TYPE_VALUES = {member: member.value for member in EventType}


def plain_event(
    principal: Principal, body: EventCreate, now: datetime, id: str | None = None
) -> EventRecord:
    """The row of an event with ``nothing_to_attribute`` (``_record``'s, built directly: a
    batch builds a thousand); ``id`` one of ``new_ids``, or a new one."""
    return EventRecord(
        id or new_id("evt"),
        principal.workspace_id,
        principal.livemode,
        body.event_id,
        _TYPE_VALUES[body.type],
        body.occurred_at or now,
        now,
        name=body.name,
        amount=body.amount,
        currency=body.currency,
        refunded_event_id=body.refunded_event_id,
        properties=body.properties,
        outcome={"referral": None},
        ip=body.ip,
        visitor_id=body.visitor_id,
        user_agent=body.user_agent,
    )


class EventService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.events = EventRepository(session)
        self.customers = CustomerRepository(session)
        self.programs = ProgramService(session)
        self.referrals = ReferralService(session)

    async def list(
        self,
        principal: Principal,
        params: PageParams,
        *,
        type: EventType | None,
        app_id: str | None,
        program_id: str | None,
        customer_id: str | None,
        occurred_from: datetime | None,
        occurred_to: datetime | None,
    ) -> tuple[list[Event], PageMeta]:
        return await self.events.page(
            principal.workspace_id,
            principal.livemode,
            params,
            type=type.value if type else None,
            app_id=app_id,
            program_id=program_id,
            customer_id=customer_id,
            occurred_from=as_utc(occurred_from) if occurred_from else None,
            occurred_to=as_utc(occurred_to) if occurred_to else None,
        )

    async def _program(self, principal: Principal, program_id: str | None) -> Program | None:
        if program_id is None:
            return None
        try:
            return await self.programs.get(principal, program_id)
        except NotFound:
            raise Unprocessable(
                f"No program {program_id} in this workspace.",
                errors=_field_error("program_id", "unknown program"),
            ) from None

    async def _customer(self, principal: Principal, body: EventCreate) -> Customer | None:
        if body.customer is None or not (body.customer.email or body.customer.external_id):
            return None
        email, external_id = body.customer.email, body.customer.external_id
        email_key = identity_email(email) if email else None
        args = (principal.workspace_id, principal.livemode, external_id, email_key)
        found = await self.customers.find(*args)
        if found is not None:
            if found.external_id is None and external_id:
                found.external_id = external_id
            if found.email is None and email:
                found.email, found.email_key = email, email_key
            return found
        now = utcnow()
        customer = Customer(
            id=new_id("cus"),
            workspace_id=principal.workspace_id,
            livemode=principal.livemode,
            external_id=external_id,
            email=email,
            email_key=email_key,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.session.begin_nested():
                await self.customers.add(customer)
        except IntegrityError:
            found = await self.customers.find(*args)  # a concurrent event created them
            if found is None:
                raise
            return found
        return customer

    async def ingest(
        self, principal: Principal, body: EventCreate, batch: BatchState
    ) -> tuple[StoredEvent, bool]:
        """Store one event (or find its first copy); returns (event, created).

        Every refusal is raised before anything is written, so the batch needs no savepoint
        per event; the steps that write and may be refused (the referral) have their own.
        """
        key = (principal.workspace_id, principal.livemode, body.event_id)
        existing = batch.pending.get(key) or batch.stored.get(key)
        if principal.app_id is not None:
            check_client_event(principal, body)
        if existing is not None:
            return existing, False
        now = batch.now
        if body.app_id is not None:
            event = await self._apps(batch).ingest(principal, body, now, batch.rows)
        elif nothing_to_attribute(body):
            event = plain_event(principal, body, now)
        else:
            event = await self._attributed(principal, body, batch, now)
        batch.pending[key] = event
        batch.rows.append(event)
        return event, True

    def _apps(self, batch: BatchState) -> AppEventService:
        return AppEventService(
            self.session,
            batch.signing_key,
            apps=batch.apps,
            prefetched=batch.app_clicks,
            installs=batch.installs,
        )

    async def prepare(
        self, items: Sequence[tuple[Principal, EventCreate]], batch: BatchState
    ) -> None:
        """Batch-wide reads before the batch's events are ingested one by one."""
        installs = [item for item in items if item[1].type is EventType.install]
        if not installs:
            return
        apps = self._apps(batch)
        if len(installs) > 1:
            await apps.prefetch(installs, batch.now)
        # Only the installs that will be stored: not replays of a stored event or of one
        # earlier in the batch, and allowed for the key (``ingest`` refuses the others).
        new: list[tuple[Principal, EventCreate]] = []
        seen: set[tuple[str, bool, str]] = set()
        for principal, body in installs:
            key = (principal.workspace_id, principal.livemode, body.event_id)
            if key in seen or key in batch.stored:
                continue
            seen.add(key)
            try:
                check_client_event(principal, body)
            except ReferkitError:
                continue
            new.append((principal, body))
        await apps.register_devices(new, batch.now)

    async def _attributed(
        self, principal: Principal, body: EventCreate, batch: BatchState, now: datetime
    ) -> EventRecord:
        program = await self._program(principal, body.program_id)
        purchase = await self._refunded(principal, body, batch)
        at = body.occurred_at or now
        customer = await self._customer(principal, body)
        code_member = (
            await MemberService(self.session).by_code(principal, body.referral_code)
            if body.referral_code
            else None
        )
        decision = await AttributionService(self.session).decide(
            principal,
            at=at,
            program_id=program.id if program else None,
            click_id=body.click_id,
            visitor_id=body.visitor_id,
            referral_code=body.referral_code,
            referral_code_member=code_member,
        )
        event = _record(
            principal,
            body,
            now,
            occurred_at=at,
            program_id=program.id if program else decision.program_id,
            customer_id=customer.id if customer else None,
            click_id=decision.click_id,
            link_id=decision.link_id,
            member_id=decision.member_id,
        )
        counts = RollupBuffer()
        if body.type is EventType.signup:
            await self._signup(principal, body, event, decision, counts)
        elif purchase is not None:
            # A refund writes (reversals) and may still be refused: give it a savepoint.
            async with self.session.begin_nested():
                await self._refund(principal, body, event, purchase, decision)
        else:
            await self._conversion(principal, body, event, decision)
        event.attribution = decision.as_dict() if decision.method else None
        if event.attribution is not None:
            # Same transaction as the event row: the message exists iff the event does.
            await WebhookService(self.session).emit(
                event.workspace_id,
                event.livemode,
                "event.attributed",
                EventView.model_validate(event).model_dump(mode="json"),
            )
        self._count(event, body, counts)
        await record(self.session, counts)
        await self._count_groups(event, body)
        return event

    async def _count_groups(self, event: EventRecord, body: EventCreate) -> None:
        """A purchase's conversion and revenue (a refund's negative revenue) in the breakdowns
        of its link and program, under the groups of the click it was attributed to. Signups
        are counted when their referral is created (``ReferralService``)."""
        purchase = body.type is EventType.purchase
        refund = body.type is EventType.refund and bool(event.amount and event.currency)
        if not (purchase or refund) or (event.link_id is None and event.program_id is None):
            return
        groups = await groups_of_click(
            self.session, event.workspace_id, event.livemode, event.click_id
        )
        buffer = DimensionBuffer()
        scope: dict[str, Any] = {
            "workspace_id": event.workspace_id,
            "livemode": event.livemode,
            "day": event.occurred_at.date(),
            "program_id": event.program_id,
            "link_id": event.link_id,
            "groups": groups,
        }
        if purchase:
            buffer.add(**scope, conversions=1)
        if event.amount and event.currency:
            sign = 1 if purchase else -1
            buffer.add(**scope, currency=event.currency, revenue=sign * event.amount)
        await record_dimensions(self.session, buffer)

    async def _signup(
        self,
        principal: Principal,
        body: EventCreate,
        event: EventRecord,
        decision: Decision,
        counts: RollupBuffer,
    ) -> None:
        if decision.member_id is None:
            event.outcome = {"referral": None, "reason": decision.explanation}
            return
        if body.customer is None or not (body.customer.email or body.customer.external_id):
            event.outcome = {"referral": None, "reason": "the event names no customer"}
            return
        by_click = decision.method in ("click_id", "cookie")
        create = ReferralCreate(
            program_id=decision.program_id,
            click_id=decision.click_id if by_click else None,
            referral_code=body.referral_code if not by_click else None,
            referee=RefereeInput(email=body.customer.email, external_id=body.customer.external_id),
            ip=body.ip,
            visitor_id=body.visitor_id,
            user_agent=body.user_agent,
        )
        try:
            async with self.session.begin_nested():
                referral = await self.referrals.create(
                    principal, create, decided=decision, origin=f"event {event.id}"
                )
        except ReferkitError as exc:
            event.outcome = {"referral": None, "error": {"code": exc.code, "detail": exc.detail}}
            return
        event.referral_id = referral.id
        event.outcome = {"referral": {"id": referral.id, "status": referral.status}}

    async def _referral_of(
        self, principal: Principal, body: EventCreate, event: EventRecord
    ) -> Referral | None:
        if body.customer is None:
            return None
        return await self.referrals.for_referee(
            principal, event.program_id, body.customer.email, body.customer.external_id
        )

    async def _conversion(
        self, principal: Principal, body: EventCreate, event: EventRecord, decision: Decision
    ) -> None:
        referral = await self._referral_of(principal, body, event)
        if referral is None:
            event.outcome = {"referral": None}
            return
        event.referral_id = referral.id
        if decision.method is None or decision.member_id == referral.member_id:
            # The referred customer's conversions belong to their referrer.
            self._credit_referral(decision, referral)
            event.program_id, event.member_id = referral.program_id, referral.member_id
            event.link_id = event.link_id or referral.attribution.get("link_id")
        program = await self.programs.get(principal, referral.program_id)
        reason = self._qualifies(program, body, event, referral)
        if reason is None:
            note = f"Qualified by event {event.id} ({body.type.value} {body.event_id})."
            await self.referrals.update(
                principal,
                referral.id,
                ReferralUpdate(status=ReferralStatus.qualified, note=note),
                purchase=Purchase(body.event_id, body.amount, body.currency),
            )
            event.outcome = {"referral": {"id": referral.id, "status": "qualified"}}
        else:
            event.outcome = {
                "referral": {"id": referral.id, "status": referral.status},
                "not_qualified": reason,
            }

    @staticmethod
    def _credit_referral(decision: Decision, referral: Referral) -> None:
        if decision.method is not None:
            return
        window = referral.attribution.get("window_days")
        decision.method = "referral"
        decision.member_id, decision.program_id = referral.member_id, referral.program_id
        decision.link_id = referral.attribution.get("link_id")
        decision.click_id = referral.attribution.get("click_id")
        decision.model = referral.attribution.get("model")
        decision.window_days = int(window) if window is not None else None
        decision.explanation = (
            f"The customer was referred by member {referral.member_id} (referral "
            f"{referral.id}); their events are credited to that referrer."
        )

    @staticmethod
    def _qualifies(
        program: Program, body: EventCreate, event: EventRecord, referral: Referral
    ) -> str | None:
        """None when the event qualifies the referral, else why not."""
        rule = program.qualification
        wanted = rule.get("event", "purchase")
        if wanted not in (body.type.value, body.name):
            return f"the program qualifies on {wanted!r} events"
        if referral.status != ReferralStatus.pending.value:
            return f"the referral is already {referral.status}"
        minimum = rule.get("min_amount")
        if minimum is not None and (
            body.currency != rule.get("currency") or (body.amount or 0) < minimum
        ):
            return f"the program needs at least {minimum} {rule.get('currency')}"
        within = rule.get("within_days")
        if within is not None and event.occurred_at > referral.created_at + timedelta(
            days=int(within)
        ):
            return f"the event is more than {within} days after the referral"
        return None

    async def _refunded(
        self, principal: Principal, body: EventCreate, batch: BatchState
    ) -> StoredEvent | None:
        """The purchase a refund names (None for other events), or a 422."""
        if body.type is not EventType.refund:
            return None
        assert body.refunded_event_id is not None
        key = (principal.workspace_id, principal.livemode, body.refunded_event_id)
        purchase = batch.pending.get(key) or await self.events.by_event_id(*key)
        if purchase is None or purchase.type != EventType.purchase.value:
            raise Unprocessable(
                f"No purchase event {body.refunded_event_id} in this workspace.",
                errors=_field_error("refunded_event_id", "unknown purchase"),
            )
        return purchase

    async def _refund(
        self,
        principal: Principal,
        body: EventCreate,
        event: EventRecord,
        purchase: StoredEvent,
        decision: Decision,
    ) -> None:
        assert body.refunded_event_id is not None
        if decision.method is None and purchase.attribution:
            decision.__dict__.update(purchase.attribution)
            decision.method = "refunded_event"
            decision.explanation = f"Refund of event {purchase.id}, credited like it."
        event.program_id = event.program_id or purchase.program_id
        event.member_id, event.link_id = purchase.member_id, purchase.link_id
        event.referral_id, event.click_id = purchase.referral_id, purchase.click_id
        if event.amount is None:
            event.amount, event.currency = purchase.amount, purchase.currency
        event.outcome = {"refunded": purchase.id}
        await self._claw_back(principal, body.refunded_event_id, purchase, event)

    async def _claw_back(
        self,
        principal: Principal,
        refunded_event_id: str,
        purchase: StoredEvent,
        event: EventRecord,
    ) -> None:
        """Reverse the purchase's rewards; deny its referral if the program says so."""
        reversed_rewards = await RewardService(self.session).on_refund(
            principal.workspace_id, principal.livemode, refunded_event_id
        )
        outcome: dict[str, Any] = {
            "refunded": purchase.id,
            "rewards_reversed": [reward.id for reward in reversed_rewards],
        }
        if purchase.referral_id is not None:
            referral = await self.referrals.get(principal, purchase.referral_id)
            program = await self.programs.get(principal, referral.program_id)
            policy = program.qualification.get("on_refund", "deny")
            if policy == "deny" and referral.status == ReferralStatus.qualified.value:
                await self.referrals.update(
                    principal,
                    referral.id,
                    ReferralUpdate(
                        status=ReferralStatus.denied,
                        note=f"Qualifying purchase {refunded_event_id} was refunded.",
                    ),
                )
                outcome["referral"] = {"id": referral.id, "status": "denied"}
        event.outcome = outcome

    @staticmethod
    def _count(event: EventRecord, body: EventCreate, counts: RollupBuffer) -> None:
        scope: dict[str, Any] = {
            "workspace_id": event.workspace_id,
            "livemode": event.livemode,
            "at": event.occurred_at,
            "program_id": event.program_id,
            "member_id": event.member_id,
            "link_id": event.link_id,
        }
        if body.type is EventType.install:
            counts.add(**scope, installs=1)
        elif body.type is EventType.signup:
            counts.add(**scope, signups=1)
        elif body.type is EventType.purchase:
            counts.add(**scope, conversions=1)
            if event.amount and event.currency:
                counts.add(**scope, currency=event.currency, revenue=event.amount)
        elif body.type is EventType.refund and event.amount and event.currency:
            counts.add(**scope, currency=event.currency, revenue=-event.amount)
