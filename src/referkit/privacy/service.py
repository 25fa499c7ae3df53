"""Data care: what is stored about one person, and erasing it everywhere.

Invariant: an erasure removes or redacts personal data and nothing else. Rows that are counted
(events, clicks, referrals, rewards, ledger entries) stay, with their ids, amounts, statuses and
links to programs, members and links, and the rollups are never touched — so every count,
revenue figure, leaderboard and stats answer is the same after an erasure as before. What is
cut is what ties a row to the person (email, external id, name, IP, user agent, visitor
cookie, referer, free-form properties) and the copies of those values in stored documents
(webhook message bodies, receivers' answers, stored idempotent responses).

The erasure runs in the caller's transaction (the request's), so it is all or nothing, and it
writes an ``erasures`` row (who, when, how many rows of each kind) that holds no personal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.db.session import keyring_of
from referkit.idempotency.service import ENCRYPTION_PURPOSE as RESPONSES_PURPOSE
from referkit.idempotency.service import stored_body
from referkit.kit.ids import new_id
from referkit.kit.json import dumps, loads
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.tenancy import owned
from referkit.kit.time import utcnow
from referkit.models import Click, Customer, Erasure, Event, Referral, Reward
from referkit.privacy.repository import PrivacyRepository
from referkit.privacy.scrub import Traces, scrub
from referkit.webhook.service import WebhookService

RESPONSES_PAGE = 500


@dataclass
class Person:
    """Everything stored about one customer, gathered once for an export or an erasure."""

    customer: Customer
    events: list[Event]
    referrals: list[Referral]
    rewards: list[Reward]
    clicks: list[Click]
    visitor_ids: set[str] = field(default_factory=set)

    def traces(self) -> Traces:
        customer, referrals = self.customer, self.referrals
        return Traces.of(
            strong=[
                customer.email,
                customer.email_key,
                customer.external_id,
                *(r.referee_email for r in referrals),
                *(r.referee_email_key for r in referrals),
                *(r.referee_external_id for r in referrals),
                *(r.ip for r in referrals),
                *(r.user_agent for r in referrals),
                *(e.ip for e in self.events),
                *(e.user_agent for e in self.events),
                *(c.user_agent for c in self.clicks),
                *self.visitor_ids,
            ],
            exact=[r.referee_name for r in referrals],
            ids=[customer.id],
            records=[e.id for e in self.events],
            keys=[
                customer.email,
                customer.external_id,
                *(r.referee_email for r in referrals),
                *(r.referee_external_id for r in referrals),
                *(r.id for r in referrals),
            ],
        )


@dataclass(frozen=True)
class MemberTraces:
    """What identified a member, taken before its row is wiped (``MemberService.erase``)."""

    id: str
    email: str | None
    email_key: str | None
    email_canonical: str | None
    external_id: str | None
    name: str | None
    ip: str | None
    visitor_id: str | None
    metadata: dict[str, Any]


def _strings(value: Any) -> Iterable[str]:
    """Every string value inside a JSON document (member metadata)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _evidence(referrals: Iterable[Referral], key: str) -> set[str]:
    """Values of ``key`` in the referrals' fraud evidence (a referee's visitor cookie or IP)."""
    found: set[str] = set()
    for referral in referrals:
        for signal in referral.fraud.get("signals", []):
            value = (signal.get("evidence") or {}).get(key)
            if isinstance(value, str) and value:
                found.add(value)
    return found


class PrivacyService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = PrivacyRepository(session)

    # Finding ---------------------------------------------------------------------------------

    async def customer(self, principal: Principal, customer_id: str) -> Customer:
        return await owned(
            principal, customer_id, prefix="cus", noun="customer", load=self.repo.customer
        )

    async def person(self, principal: Principal, customer_id: str) -> Person:
        customer = await self.customer(principal, customer_id)
        ws, mode = principal.workspace_id, principal.livemode
        events = await self.repo.events(ws, mode, customer_id=customer.id)
        referrals = await self.repo.referrals_of_referee(
            ws,
            mode,
            email_key=customer.email_key,
            external_id=customer.external_id,
            referral_ids=[e.referral_id for e in events if e.referral_id],
        )
        visitor_ids = {e.visitor_id for e in events if e.visitor_id}
        visitor_ids |= _evidence(referrals, "visitor_id")
        # Events sent from their device before the product knew who they were.
        known = {e.id for e in events}
        for event in await self.repo.events(ws, mode, visitor_ids=sorted(visitor_ids)):
            if event.id not in known:
                events.append(event)
        click_ids = {e.click_id for e in events if e.click_id}
        click_ids |= {
            str(r.attribution["click_id"]) for r in referrals if r.attribution.get("click_id")
        }
        clicks = await self.repo.clicks(ws, click_ids=click_ids, visitor_ids=visitor_ids)
        visitor_ids |= {c.visitor_id for c in clicks if c.visitor_id}
        rewards = await self.repo.rewards(ws, mode, referee_of=[r.id for r in referrals])
        events.sort(key=lambda e: e.id)
        return Person(customer, events, referrals, rewards, clicks, visitor_ids)

    async def customers(
        self,
        principal: Principal,
        params: PageParams,
        *,
        email_key: str | None,
        external_id: str | None,
    ) -> tuple[list[Customer], PageMeta]:
        return await self.repo.customers_page(
            principal.workspace_id,
            principal.livemode,
            params,
            email_key=email_key,
            external_id=external_id,
        )

    async def erasures(
        self, principal: Principal, params: PageParams, *, subject_id: str | None
    ) -> tuple[list[Erasure], PageMeta]:
        return await self.repo.erasures_page(
            principal.workspace_id, principal.livemode, params, subject_id=subject_id
        )

    # Erasing ---------------------------------------------------------------------------------

    async def erase_customer(self, principal: Principal, customer_id: str) -> Erasure:
        person = await self.person(principal, customer_id)
        traces = person.traces()
        customer = person.customer
        counts: dict[str, int] = {"customers": 1}
        counts["events"] = self._erase_events(person.events, traces, unlink=customer.id)
        counts["referrals"] = self._erase_referees(person.referrals, traces)
        counts["rewards"] = self._scrub_rewards(person.rewards, traces)
        counts["clicks"] = await self.repo.erase_clicks(
            principal.workspace_id, [c.id for c in person.clicks]
        )
        counts.update(await self._redact_documents(principal, traces))
        await self.repo.delete_customer(customer)
        erasure = await self._record(principal, "customer", customer.id, counts)
        await WebhookService(self.session).emit(
            principal.workspace_id,
            principal.livemode,
            "customer.erased",
            {
                "id": customer.id,
                "erasure_id": erasure.id,
                "erased_at": erasure.created_at.isoformat(),
                "counts": counts,
            },
        )
        return erasure

    async def erase_member(self, principal: Principal, member: MemberTraces) -> Erasure:
        """Erase a member's traces outside its own row (which ``MemberService`` has wiped):
        their device's clicks and events, the evidence that names their device on their
        referrals, notes on their rewards, and copies in stored documents."""
        ws, mode = principal.workspace_id, principal.livemode
        visitors = [member.visitor_id] if member.visitor_id else []
        events = await self.repo.events(ws, mode, visitor_ids=visitors)
        clicks = await self.repo.clicks(ws, click_ids=(), visitor_ids=visitors)
        referrals = await self.repo.referrals_of_member(ws, member.id)
        rewards = await self.repo.rewards(ws, mode, member_id=member.id)
        traces = Traces.of(
            strong=[
                member.email,
                member.email_key,
                member.email_canonical,
                member.external_id,
                member.ip,
                member.visitor_id,
            ],
            exact=[member.name, *_strings(member.metadata)],
            records=[member.id, *(e.id for e in events)],
            keys=[member.email, member.external_id, member.id],
        )
        counts: dict[str, int] = {"members": 1}
        counts["events"] = self._erase_events(events, traces, unlink=None)
        counts["clicks"] = await self.repo.erase_clicks(ws, [c.id for c in clicks])
        counts["referrals"] = sum(self._scrub_referral(r, traces) for r in referrals)
        counts["rewards"] = self._scrub_rewards(rewards, traces)
        counts.update(await self._redact_documents(principal, traces))
        return await self._record(principal, "member", member.id, counts)

    @staticmethod
    def _erase_events(events: list[Event], traces: Traces, *, unlink: str | None) -> int:
        for event in events:
            if unlink is not None and event.customer_id == unlink:
                event.customer_id = None
            event.ip = event.user_agent = event.visitor_id = None
            event.properties = {}
            event.outcome = scrub(event.outcome, traces)[0]
            if event.attribution is not None:
                event.attribution = scrub(event.attribution, traces)[0]
        return len(events)

    def _erase_referees(self, referrals: list[Referral], traces: Traces) -> int:
        for referral in referrals:
            referral.referee_email = referral.referee_email_key = None
            referral.referee_external_id = referral.referee_name = None
            referral.ip = referral.user_agent = None
            self._scrub_referral(referral, traces)
        return len(referrals)

    @staticmethod
    def _scrub_referral(referral: Referral, traces: Traces) -> bool:
        changed = False
        for name in ("fraud", "attribution", "status_history", "note"):
            value, hit = scrub(getattr(referral, name), traces)
            if hit:
                setattr(referral, name, value)
                changed = True
        return changed

    @staticmethod
    def _scrub_rewards(rewards: list[Reward], traces: Traces) -> int:
        for reward in rewards:
            reward.note = scrub(reward.note, traces)[0]
            reward.description = scrub(reward.description, traces)[0] or ""
        return len(rewards)

    async def _redact_documents(self, principal: Principal, traces: Traces) -> dict[str, int]:
        """Redact the person's data in webhook bodies, receivers' answers and stored responses."""
        ws, mode = principal.workspace_id, principal.livemode
        messages = await self.repo.messages_carrying(ws, mode, traces.needles())
        redacted = 0
        for message in messages:
            body, hit = scrub(loads(message.body), traces)
            if hit:
                message.body = dumps(body).decode()
                redacted += 1
        answers = 0
        for attempt in await self.repo.attempts_of(ws, [m.id for m in messages]):
            if attempt.response_body and traces.hit(attempt.response_body):
                attempt.response_body = None
                answers += 1
        return {
            "webhook_messages": redacted,
            "webhook_attempts": answers,
            "idempotency_keys": await self._redact_responses(ws, mode, traces),
        }

    async def _redact_responses(self, workspace_id: str, livemode: bool, traces: Traces) -> int:
        """Stored idempotent responses (kept a day) that carry the person: redacted in place, so
        a retry replays the redacted answer rather than re-creating what was erased."""
        needles = traces.needles()
        keyring = keyring_of(self.session)
        if keyring is None:
            raise RuntimeError("erasing needs the keys that open stored responses")
        box = keyring.box(RESPONSES_PURPOSE)  # stored responses are encrypted at rest
        redacted, after = 0, None
        while True:
            page = await self.repo.stored_responses(workspace_id, livemode, after, RESPONSES_PAGE)
            for record in page:
                raw = stored_body(box, record).decode("utf-8", "replace")
                low = raw.lower()
                if not any(n in low for n in needles):
                    continue
                try:
                    document, _ = scrub(loads(raw), traces)
                    plain = dumps(document)
                except ValueError:  # not JSON: nothing safe to keep
                    plain = b""
                record.body = box.seal(plain, context=record.id)
                redacted += 1
            if len(page) < RESPONSES_PAGE:
                break
            after = page[-1].id
        await self.session.flush()
        return redacted

    async def _record(
        self, principal: Principal, subject_type: str, subject_id: str, counts: dict[str, int]
    ) -> Erasure:
        erasure = Erasure(
            id=new_id("ers"),
            workspace_id=principal.workspace_id,
            livemode=principal.livemode,
            subject_type=subject_type,
            subject_id=subject_id,
            key_id=principal.key_id,
            counts=counts,
            created_at=utcnow(),
        )
        await self.repo.add_erasure(erasure)
        return erasure
