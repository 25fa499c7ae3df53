"""Queries for data care: finding everything stored about one person, erasing it, the erasure
log, and the retention purge's batches.

Like the test-data wipe, these statements cross the domains' tables on purpose: an erasure must
reach every row that holds a person's data, and it must not go through the hot write paths
(batchers) that insert clicks and events. Every statement filters on the workspace (and mode).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.models import (
    ApiKey,
    Click,
    Customer,
    Erasure,
    Event,
    IdempotencyKey,
    Referral,
    Reward,
    WebhookAttempt,
    WebhookMessage,
    Workspace,
)

CHUNK = 500
"""Ids per ``IN (...)`` list: well inside SQLite's and asyncpg's parameter limits."""


def chunks(values: Iterable[str], size: int = CHUNK) -> Iterable[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), size):
        yield items[start : start + size]


class PrivacyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Customers -------------------------------------------------------------------------------

    async def customer(
        self, workspace_id: str, livemode: bool, customer_id: str
    ) -> Customer | None:
        found: Customer | None = await self.session.scalar(
            select(Customer).where(
                Customer.id == customer_id,
                Customer.workspace_id == workspace_id,
                Customer.livemode == livemode,
            )
        )
        return found

    async def customers_page(
        self,
        workspace_id: str,
        livemode: bool,
        params: PageParams,
        *,
        email_key: str | None,
        external_id: str | None,
    ) -> tuple[list[Customer], PageMeta]:
        stmt = select(Customer).where(
            Customer.workspace_id == workspace_id, Customer.livemode == livemode
        )
        if email_key is not None:
            stmt = stmt.where(Customer.email_key == email_key)
        if external_id is not None:
            stmt = stmt.where(Customer.external_id == external_id)
        return await paginate(self.session, stmt, Customer.id, params)

    async def delete_customer(self, customer: Customer) -> None:
        await self.session.execute(delete(Customer).where(Customer.id == customer.id))

    # What is theirs --------------------------------------------------------------------------

    async def events(
        self,
        workspace_id: str,
        livemode: bool,
        *,
        customer_id: str | None = None,
        visitor_ids: Sequence[str] = (),
    ) -> list[Event]:
        """Events linked to the customer, or sent from one of their visitor cookies."""
        conditions: list[ColumnElement[bool]] = []
        if customer_id is not None:
            conditions.append(Event.customer_id == customer_id)
        if visitor_ids:
            conditions.append(Event.visitor_id.in_(sorted(set(visitor_ids))))
        if not conditions:
            return []
        stmt = (
            select(Event)
            .where(Event.workspace_id == workspace_id, Event.livemode == livemode, or_(*conditions))
            .order_by(Event.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def referrals_of_referee(
        self,
        workspace_id: str,
        livemode: bool,
        *,
        email_key: str | None,
        external_id: str | None,
        referral_ids: Sequence[str],
    ) -> list[Referral]:
        conditions: list[ColumnElement[bool]] = []
        if email_key:
            conditions.append(Referral.referee_email_key == email_key)
        if external_id:
            conditions.append(Referral.referee_external_id == external_id)
        if referral_ids:
            conditions.append(Referral.id.in_(sorted(set(referral_ids))))
        if not conditions:
            return []
        stmt = (
            select(Referral)
            .where(
                Referral.workspace_id == workspace_id,
                Referral.livemode == livemode,
                or_(*conditions),
            )
            .order_by(Referral.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def referrals_of_member(self, workspace_id: str, member_id: str) -> list[Referral]:
        stmt = (
            select(Referral)
            .where(Referral.workspace_id == workspace_id, Referral.member_id == member_id)
            .order_by(Referral.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def rewards(
        self,
        workspace_id: str,
        livemode: bool,
        *,
        referee_of: Sequence[str] = (),
        member_id: str | None = None,
    ) -> list[Reward]:
        """Rewards whose recipient is the referee of ``referee_of`` referrals, or the member."""
        conditions: list[ColumnElement[bool]] = []
        if referee_of:
            conditions.append(
                (Reward.referral_id.in_(sorted(set(referee_of)))) & (Reward.recipient == "referee")
            )
        if member_id is not None:
            conditions.append((Reward.member_id == member_id) & (Reward.recipient == "referrer"))
        if not conditions:
            return []
        stmt = (
            select(Reward)
            .where(
                Reward.workspace_id == workspace_id, Reward.livemode == livemode, or_(*conditions)
            )
            .order_by(Reward.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def clicks(
        self, workspace_id: str, *, click_ids: Iterable[str], visitor_ids: Iterable[str]
    ) -> list[Click]:
        """Clicks the person's events or referrals name, or made with their visitor cookie."""
        found: dict[str, Click] = {}
        for ids in chunks(click_ids):
            stmt = select(Click).where(Click.workspace_id == workspace_id, Click.id.in_(ids))
            found.update((c.id, c) for c in await self.session.scalars(stmt))
        for visitors in chunks(visitor_ids):
            stmt = select(Click).where(
                Click.workspace_id == workspace_id, Click.visitor_id.in_(visitors)
            )
            found.update((c.id, c) for c in await self.session.scalars(stmt))
        return sorted(found.values(), key=lambda c: c.id)

    # Erasing ---------------------------------------------------------------------------------

    async def erase_clicks(self, workspace_id: str, click_ids: Iterable[str]) -> int:
        """Cut the clicks' links to the visitor; the click itself (a count) stays."""
        erased = 0
        for ids in chunks(click_ids):
            result = await self.session.execute(
                update(Click)
                .where(Click.workspace_id == workspace_id, Click.id.in_(ids))
                .values(visitor_id=None, visitor_hash="erased", user_agent=None, referer=None)
            )
            erased += int(getattr(result, "rowcount", 0) or 0)
        return erased

    async def messages_carrying(
        self, workspace_id: str, livemode: bool, needles: Sequence[str]
    ) -> list[WebhookMessage]:
        """The workspace's webhook messages whose body contains one of ``needles``."""
        found: dict[str, WebhookMessage] = {}
        body = func.lower(WebhookMessage.body)
        for group in chunks(needles, 50):
            stmt = select(WebhookMessage).where(
                WebhookMessage.workspace_id == workspace_id,
                WebhookMessage.livemode == livemode,
                or_(*(body.contains(n, autoescape=True) for n in group)),
            )
            found.update((m.id, m) for m in await self.session.scalars(stmt))
        return sorted(found.values(), key=lambda m: m.id)

    async def attempts_of(
        self, workspace_id: str, message_ids: Iterable[str]
    ) -> list[WebhookAttempt]:
        attempts: list[WebhookAttempt] = []
        for ids in chunks(message_ids):
            stmt = select(WebhookAttempt).where(
                WebhookAttempt.workspace_id == workspace_id,
                WebhookAttempt.message_id.in_(ids),
                WebhookAttempt.response_body.is_not(None),
            )
            attempts.extend(await self.session.scalars(stmt))
        return attempts

    async def stored_responses(
        self, workspace_id: str, livemode: bool, after: str | None, limit: int
    ) -> list[IdempotencyKey]:
        """One page (by id) of the stored responses of the workspace's keys of this mode."""
        keys = select(ApiKey.id).where(
            ApiKey.workspace_id == workspace_id, ApiKey.livemode == livemode
        )
        stmt = select(IdempotencyKey).where(
            IdempotencyKey.workspace_id == workspace_id,
            IdempotencyKey.api_key_id.in_(keys.scalar_subquery()),
            IdempotencyKey.body.is_not(None),
        )
        if after is not None:
            stmt = stmt.where(IdempotencyKey.id > after)
        stmt = stmt.order_by(IdempotencyKey.id).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    # The erasure log -------------------------------------------------------------------------

    async def add_erasure(self, erasure: Erasure) -> None:
        self.session.add(erasure)
        await self.session.flush()

    async def erasures_page(
        self, workspace_id: str, livemode: bool, params: PageParams, *, subject_id: str | None
    ) -> tuple[list[Erasure], PageMeta]:
        stmt = select(Erasure).where(
            Erasure.workspace_id == workspace_id, Erasure.livemode == livemode
        )
        if subject_id is not None:
            stmt = stmt.where(Erasure.subject_id == subject_id)
        return await paginate(self.session, stmt, Erasure.id, params)

    # Retention -------------------------------------------------------------------------------

    async def retaining_workspaces(self) -> list[tuple[str, int, datetime | None]]:
        """(workspace id, days, purged before) of every workspace with a retention setting."""
        stmt = select(
            Workspace.id, Workspace.raw_detail_days, Workspace.detail_purged_before
        ).where(Workspace.raw_detail_days.is_not(None))
        rows = (await self.session.execute(stmt)).all()
        return [(row[0], int(row[1] or 0), row[2]) for row in rows]

    async def retention_days(self) -> dict[str, int | None]:
        """Every workspace's retention setting in days (None: raw detail is kept)."""
        rows = (await self.session.execute(select(Workspace.id, Workspace.raw_detail_days))).all()
        return {row[0]: None if row[1] is None else int(row[1]) for row in rows}

    async def mark_purged(self, workspace_id: str, before: datetime) -> None:
        await self.session.execute(
            update(Workspace)
            .where(Workspace.id == workspace_id)
            .values(detail_purged_before=before)
        )

    async def next_ids(
        self,
        model: Any,
        workspace_id: str,
        *,
        after: str | None,
        below: str,
        cutoff: datetime,
        limit: int,
    ) -> list[str]:
        """The next ``limit`` ids of ``model`` rows of the workspace with ``after < id < below``
        created before ``cutoff``: ids sort by creation time, so the primary key walks the
        range without reading newer rows."""
        stmt = select(model.id).where(
            model.workspace_id == workspace_id, model.id < below, model.created_at < cutoff
        )
        if after is not None:
            stmt = stmt.where(model.id > after)
        stmt = stmt.order_by(model.id).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def clear_detail(self, model: Any, ids: Sequence[str]) -> int:
        """Null the raw detail of ``ids`` (clicks: user agent and referer; events: IP, user
        agent and properties). Rollups, ids and links stay."""
        if model is Click:
            values: dict[str, Any] = {"user_agent": None, "referer": None}
            pending = or_(Click.user_agent.is_not(None), Click.referer.is_not(None))
        else:
            values = {"ip": None, "user_agent": None, "properties": {}}
            # Properties are always rewritten: comparing JSON with {} is not portable.
            pending = None
        stmt = update(model).where(model.id.in_(list(ids))).values(**values)
        if pending is not None:
            stmt = stmt.where(pending)
        result = await self.session.execute(stmt.execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)
