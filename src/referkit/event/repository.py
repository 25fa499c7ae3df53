from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.bulk import BulkInsert
from referkit.db.partitions import event_keys, stored_at
from referkit.event.record import EventRecord, StoredEvent
from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.models import Customer, Event

EVENTS = BulkInsert(Event.__table__)  # type: ignore[arg-type]


class EventsStoredConcurrently(Exception):
    """Some events of a batch were stored by another writer after the batch looked them up:
    the batch fails as a whole, as a unique-key violation would make it."""


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _postgres(self) -> bool:
        return self.session.bind is not None and self.session.bind.dialect.name == "postgresql"

    async def by_event_id(self, workspace_id: str, livemode: bool, event_id: str) -> Event | None:
        stmt = select(Event).where(Event.workspace_id == workspace_id, Event.livemode == livemode)
        if self._postgres():
            found = await event_keys(self.session, workspace_id, livemode, [event_id])
            if not found:
                return None
            stmt = stmt.where(*stored_at(Event.__table__, found))
        else:
            stmt = stmt.where(Event.event_id == event_id)
        result: Event | None = await self.session.scalar(stmt)
        return result

    async def by_event_ids(
        self, workspace_id: str, livemode: bool, event_ids: list[str]
    ) -> list[EventRecord]:
        """The stored events among ``event_ids`` (read below the ORM: the batch only needs
        their values, to answer a replay)."""
        table = Event.__table__
        scope = (table.c.workspace_id == workspace_id, table.c.livemode == livemode)
        found: list[EventRecord] = []
        if self._postgres():
            # Array parameters: no statement text per list length, no 1000-way IN to plan.
            keys = await event_keys(self.session, workspace_id, livemode, event_ids)
            if not keys:
                return []
            result = await self.session.execute(
                select(table).where(*scope, *stored_at(table, keys))
            )
            return [EventRecord(**row) for row in result.mappings()]
        for start in range(0, len(event_ids), 500):
            stmt = select(table).where(*scope, table.c.event_id.in_(event_ids[start : start + 500]))
            result = await self.session.execute(stmt)
            found.extend(EventRecord(**row) for row in result.mappings())
        return found

    async def add_all(self, events: Sequence[StoredEvent]) -> None:
        """One multi-row insert below the ORM: a batch's events are final once built (nothing
        updates them in the batch's transaction), so the unit of work has nothing to add."""
        stored = await EVENTS.insert_records(self.session, events)
        if stored != len(events):
            # On PostgreSQL the event_keys trigger skips an event id stored since the batch
            # looked (another process); SQLite's unique constraint raises instead.
            raise EventsStoredConcurrently(f"{len(events) - stored} event id(s) stored meanwhile")

    async def page(
        self,
        workspace_id: str,
        livemode: bool,
        params: PageParams,
        *,
        type: str | None,
        app_id: str | None,
        program_id: str | None,
        customer_id: str | None,
        occurred_from: datetime | None,
        occurred_to: datetime | None,
    ) -> tuple[list[Event], PageMeta]:
        stmt = select(Event).where(Event.workspace_id == workspace_id, Event.livemode == livemode)
        for column, value in (
            (Event.type, type),
            (Event.app_id, app_id),
            (Event.program_id, program_id),
            (Event.customer_id, customer_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if occurred_from is not None:
            stmt = stmt.where(Event.occurred_at >= occurred_from)
        if occurred_to is not None:
            stmt = stmt.where(Event.occurred_at < occurred_to)
        return await paginate(self.session, stmt, Event.id, params)


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(
        self, workspace_id: str, livemode: bool, external_id: str | None, email_key: str | None
    ) -> Customer | None:
        for column, value in ((Customer.external_id, external_id), (Customer.email_key, email_key)):
            if value is None:
                continue
            found: Customer | None = await self.session.scalar(
                select(Customer).where(
                    Customer.workspace_id == workspace_id,
                    Customer.livemode == livemode,
                    column == value,
                )
            )
            if found is not None:
                return found
        return None

    async def add(self, customer: Customer) -> None:
        self.session.add(customer)
        await self.session.flush()
