"""The event batch writer: one transaction per batch, one bulk lookup of the batch's event ids,
one multi-row insert of the new events and one rollup upsert (see ``referkit.db.batcher``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text

from referkit.auth.principal import Principal
from referkit.db.session import SessionFactory
from referkit.errors import ReferkitError
from referkit.event.record import StoredEvent
from referkit.event.repository import EventRepository
from referkit.event.schemas import EventCreate
from referkit.event.service import BatchState, EventService
from referkit.stats.rollups import BUFFER_KEY, RollupBuffer


@dataclass(frozen=True)
class EventJob:
    principal: Principal
    body: EventCreate


class EventWriter:
    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    async def __call__(
        self, jobs: Sequence[EventJob]
    ) -> Sequence[tuple[StoredEvent, bool] | BaseException]:
        results: list[tuple[StoredEvent, bool] | BaseException] = []
        # This transaction is the batch's own (the batcher is the hot-path commit boundary).
        async with self.sessions.transaction() as session:
            if (await session.connection()).dialect.name == "postgresql":
                # asyncpg prepares every statement, and PostgreSQL switches a prepared statement
                # to a generic plan after five runs. Planned while the events table was new and
                # small, that plan scans the table for each batch's event ids (hundreds of ms
                # at 20k rows) until autovacuum analyzes it; a custom plan per batch costs
                # microseconds and always uses the unique index.
                await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            rollups = session.info[BUFFER_KEY] = RollupBuffer()
            batch = BatchState()
            repository = EventRepository(session)
            wanted: dict[tuple[str, bool], list[str]] = defaultdict(list)
            for job in jobs:
                wanted[(job.principal.workspace_id, job.principal.livemode)].append(
                    job.body.event_id
                )
            for (workspace_id, livemode), event_ids in wanted.items():
                for event in await repository.by_event_ids(workspace_id, livemode, event_ids):
                    batch.stored[(workspace_id, livemode, event.event_id)] = event
            service = EventService(session)
            for job in jobs:
                try:
                    results.append(await service.ingest(job.principal, job.body, batch))
                except ReferkitError as exc:
                    results.append(exc)
            await repository.add_all(batch.rows)
            del session.info[BUFFER_KEY]
            await rollups.write(session)
        return results
