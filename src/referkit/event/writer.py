"""The event batch writer: one transaction per batch, one bulk lookup of the batch's event ids,
one multi-row insert of the new events and one rollup upsert (see ``referkit.db.batcher``).

A batch whose events have nothing to attribute (``nothing_to_attribute``: no program,
customer, click, cookie or code) needs none of the services, so it skips the session: on
SQLite one insert on the shared writer connection, on PostgreSQL one self-committing
``INSERT … ON CONFLICT DO NOTHING`` on a direct connection. Event ids already stored are
replays: their jobs then take the session path, which answers them with the first answer.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple, cast

from sqlalchemy import Table, text

from referkit.auth.principal import Principal
from referkit.db.bulk import BulkInsert
from referkit.db.pg_direct import DirectConnections
from referkit.db.session import BATCH_MEMO, SessionFactory
from referkit.db.sqlite_writer import SqliteWriter
from referkit.errors import ReferkitError
from referkit.event.record import EventRecord, StoredEvent
from referkit.event.repository import EventRepository
from referkit.event.schemas import EventCreate
from referkit.event.service import BatchState, EventService, nothing_to_attribute, plain_event
from referkit.kit.ids import new_ids
from referkit.kit.time import utcnow
from referkit.models import Event
from referkit.stats.app_rollups import APP_BUFFER_KEY, AppRollupBuffer
from referkit.stats.dimensions import DIMENSION_BUFFER_KEY, DimensionBuffer
from referkit.stats.reward_rollups import REWARD_BUFFER_KEY, RewardRollupBuffer
from referkit.stats.rollups import BUFFER_KEY, RollupBuffer


class EventJob(NamedTuple):
    principal: Principal
    body: EventCreate


Outcome = tuple[StoredEvent, bool] | BaseException
logger = logging.getLogger("referkit.events")


class _Replays(Exception):
    """Some event ids of a plain batch are stored already (raised to roll the insert back)."""


PLAIN = BulkInsert(
    cast(Table, Event.__table__),
    suffix=" ON CONFLICT (workspace_id, livemode, event_id) DO NOTHING",
)
# PostgreSQL partitions events by month, so no unique index can hold the event ids: a trigger
# claims each one in ``event_keys`` and skips the row of an id stored before, as the
# ``ON CONFLICT DO NOTHING`` above does on SQLite (migration 0023).
PLAIN_PG = BulkInsert(cast(Table, Event.__table__))


def _pg_plain(rows: Sequence[EventRecord]) -> tuple[str, list[object]]:
    insert, args = PLAIN_PG.pg_compact_records(rows)
    returning = "RETURNING workspace_id, livemode, event_id"
    return f"WITH stored AS ({insert} {returning}) SELECT * FROM stored", args  # noqa: S608


class EventWriter:
    def __init__(
        self,
        sessions: SessionFactory,
        *,
        sqlite: SqliteWriter | None = None,
        postgres: DirectConnections | None = None,
        signing_key: bytes = b"",
    ) -> None:
        self.sessions = sessions
        self.signing_key = signing_key
        self.sqlite = sqlite
        self.postgres = postgres

    async def __call__(self, jobs: Sequence[EventJob]) -> Sequence[Outcome]:
        if (self.sqlite or self.postgres) and all(nothing_to_attribute(j.body) for j in jobs):
            return await self._plain(jobs)
        return await self._with_session(jobs)

    async def _plain(self, jobs: Sequence[EventJob]) -> Sequence[Outcome]:
        now = utcnow()
        first: dict[tuple[str, bool, str], EventRecord] = {}
        keys: list[tuple[str, bool, str]] = []
        results: list[Outcome] = []
        ids = new_ids("evt", len(jobs))
        for job, event_id in zip(jobs, ids, strict=True):
            key = (job.principal.workspace_id, job.principal.livemode, job.body.event_id)
            keys.append(key)
            event = first.get(key)
            if event is None:
                first[key] = plain_event(job.principal, job.body, now, event_id)
                results.append((first[key], True))
            else:
                results.append((event, False))  # the same event twice in one batch
        rows = list(first.values())
        if self.sqlite is not None:

            def insert(conn: sqlite3.Connection) -> None:
                stored = conn.executemany(PLAIN.sqlite_sql, PLAIN.sqlite_record_values(rows))
                if stored.rowcount != len(rows):
                    raise _Replays

            try:
                await self.sqlite.transaction(insert)
            except _Replays:
                return await self._with_session(jobs)
            return results
        assert self.postgres is not None
        async with self.postgres.connection() as conn:
            sql, args = _pg_plain(rows)
            inserted = await conn.fetch(sql, *args)
        if len(inserted) == len(rows):
            return results
        # The rows inserted are committed; the others were stored before: replays.
        new = {(r["workspace_id"], r["livemode"], r["event_id"]) for r in inserted}
        replays = [i for i, key in enumerate(keys) if key not in new]
        try:
            answers = await self._with_session([jobs[i] for i in replays])
        except Exception as exc:
            # Only the replays' answers failed: the new events stay answered as stored
            # (rewriting the whole batch would answer them as replays of themselves).
            logger.exception("event batch: replays could not be answered")
            answers = [exc] * len(replays)
        for index, answer in zip(replays, answers, strict=True):
            results[index] = answer
        return results

    async def _with_session(self, jobs: Sequence[EventJob]) -> Sequence[Outcome]:
        results: list[Outcome] = []
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
            app_rollups = session.info[APP_BUFFER_KEY] = AppRollupBuffer()
            reward_rollups = session.info[REWARD_BUFFER_KEY] = RewardRollupBuffer()
            groups = session.info[DIMENSION_BUFFER_KEY] = DimensionBuffer()
            session.info[BATCH_MEMO] = {}
            batch = BatchState(signing_key=self.signing_key)
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
            await service.prepare([(job.principal, job.body) for job in jobs], batch)
            for job in jobs:
                try:
                    results.append(await service.ingest(job.principal, job.body, batch))
                except ReferkitError as exc:
                    results.append(exc)
            await repository.add_all(batch.rows)
            del session.info[BUFFER_KEY], session.info[BATCH_MEMO]
            await rollups.write(session)
            del session.info[APP_BUFFER_KEY]
            await app_rollups.write(session)
            del session.info[REWARD_BUFFER_KEY]
            await reward_rollups.write(session)
            del session.info[DIMENSION_BUFFER_KEY]
            await groups.write(session)
        return results
