"""All queries of the integration domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.locking import skip_locked
from referkit.db.partitions import created_near, event_keys, stored_at
from referkit.kit.ids import looks_like_id
from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.models import (
    AppClick,
    Customer,
    Event,
    Integration,
    IntegrationAttempt,
    IntegrationForward,
)


class IntegrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *rows: object) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def for_app(self, workspace_id: str, app_id: str) -> list[Integration]:
        rows = await self.session.scalars(
            select(Integration)
            .where(Integration.workspace_id == workspace_id, Integration.app_id == app_id)
            .order_by(Integration.network)
        )
        return list(rows)

    async def enabled_for_app(self, workspace_id: str, app_id: str) -> list[Integration]:
        rows = await self.session.scalars(
            select(Integration).where(
                Integration.workspace_id == workspace_id,
                Integration.app_id == app_id,
                Integration.enabled.is_(True),
            )
        )
        return list(rows)

    async def with_credentials_after(self, after: str, limit: int) -> list[Integration]:
        rows = await self.session.scalars(
            select(Integration)
            .where(Integration.id > after, Integration.credentials.is_not(None))
            .order_by(Integration.id)
            .limit(limit)
        )
        return list(rows)

    async def by_id(self, workspace_id: str, integration_id: str) -> Integration | None:
        return await self.session.get(Integration, (workspace_id, integration_id))

    async def click(self, workspace_id: str, livemode: bool, click_id: str) -> AppClick | None:
        result: AppClick | None = await self.session.scalar(
            select(AppClick).where(
                AppClick.id == click_id,
                AppClick.workspace_id == workspace_id,
                AppClick.livemode == livemode,
                created_near(AppClick.created_at, click_id),
            )
        )
        return result

    async def customer(self, workspace_id: str, customer_id: str) -> Customer | None:
        return await self.session.get(Customer, (workspace_id, customer_id))

    async def event(self, app_id: str, workspace_id: str, livemode: bool, ref: str) -> Event | None:
        """An app event by our id (``evt_…``) or the sender's ``event_id``."""
        scope = (Event.workspace_id == workspace_id, Event.livemode == livemode)
        if looks_like_id(ref, "evt"):
            found: Event | None = await self.session.scalar(
                select(Event).where(
                    *scope,
                    Event.app_id == app_id,
                    Event.id == ref,
                    created_near(Event.created_at, ref),
                )
            )
            if found is not None:
                return found
        stmt = select(Event).where(*scope, Event.app_id == app_id)
        if self.session.get_bind().dialect.name == "postgresql":
            keys = await event_keys(self.session, workspace_id, livemode, [ref])
            if not keys:
                return None
            stmt = stmt.where(*stored_at(Event.__table__, keys))
        else:
            stmt = stmt.where(Event.event_id == ref)
        by_event_id: Event | None = await self.session.scalar(stmt)
        return by_event_id

    async def latest_event(self, app_id: str, workspace_id: str, livemode: bool) -> Event | None:
        result: Event | None = await self.session.scalar(
            select(Event)
            .where(
                Event.workspace_id == workspace_id,
                Event.livemode == livemode,
                Event.app_id == app_id,
            )
            .order_by(Event.id.desc())
            .limit(1)
        )
        return result

    async def page_forwards(
        self, workspace_id: str, integration_id: str, params: PageParams
    ) -> tuple[list[IntegrationForward], PageMeta]:
        stmt = select(IntegrationForward).where(
            IntegrationForward.workspace_id == workspace_id,
            IntegrationForward.integration_id == integration_id,
        )
        return await paginate(self.session, stmt, IntegrationForward.id, params)

    async def forward(
        self, workspace_id: str, integration_id: str, forward_id: str
    ) -> IntegrationForward | None:
        result: IntegrationForward | None = await self.session.scalar(
            select(IntegrationForward).where(
                IntegrationForward.workspace_id == workspace_id,
                IntegrationForward.id == forward_id,
                IntegrationForward.integration_id == integration_id,
            )
        )
        return result

    async def forward_of(
        self, workspace_id: str, integration_id: str, event_id: str
    ) -> IntegrationForward | None:
        result: IntegrationForward | None = await self.session.scalar(
            select(IntegrationForward)
            .where(
                IntegrationForward.workspace_id == workspace_id,
                IntegrationForward.integration_id == integration_id,
                IntegrationForward.event_id == event_id,
            )
            .limit(1)
        )
        return result

    async def forwards_by_id(self, ids: Sequence[str]) -> list[IntegrationForward]:
        rows = await self.session.scalars(
            select(IntegrationForward).where(IntegrationForward.id.in_(ids))
        )
        return list(rows)

    async def attempts_for(
        self, workspace_id: str, forward_ids: Sequence[str]
    ) -> list[IntegrationAttempt]:
        if not forward_ids:
            return []
        rows = await self.session.scalars(
            select(IntegrationAttempt)
            .where(
                IntegrationAttempt.workspace_id == workspace_id,
                IntegrationAttempt.forward_id.in_(forward_ids),
            )
            .order_by(IntegrationAttempt.attempted_at, IntegrationAttempt.id)
        )
        return list(rows)

    def _due(self, now: datetime) -> Select[IntegrationForward, Integration]:
        return (
            select(IntegrationForward, Integration)
            .join(
                Integration,
                (Integration.workspace_id == IntegrationForward.workspace_id)
                & (Integration.id == IntegrationForward.integration_id),
            )
            .where(
                IntegrationForward.status == "pending",
                IntegrationForward.next_attempt_at <= now,
                Integration.enabled.is_(True),
            )
        )

    async def any_due(self, now: datetime) -> bool:
        row = await self.session.scalar(
            self._due(now).with_only_columns(IntegrationForward.id).limit(1)
        )
        return row is not None

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[tuple[IntegrationForward, Integration]]:
        """Lease up to ``limit`` due forwards of enabled integrations (see ``db.locking``)."""
        stmt = (
            self._due(now)
            .order_by(IntegrationForward.next_attempt_at, IntegrationForward.id)
            .limit(limit)
        )
        result = await self.session.execute(skip_locked(self.session, stmt, IntegrationForward))
        rows = [(row[0], row[1]) for row in result.all()]
        if rows:
            await self.session.execute(
                update(IntegrationForward)
                .where(IntegrationForward.id.in_([f.id for f, _ in rows]))
                .values(next_attempt_at=lease_until)
                .execution_options(synchronize_session=False)
            )
        return rows
