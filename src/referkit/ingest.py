"""The hot-path writers of one process: the click and event group-commit batchers."""

from __future__ import annotations

from collections.abc import Sequence

from referkit.auth.principal import Principal
from referkit.config import Settings
from referkit.db.batcher import GroupCommitter
from referkit.db.pg_direct import DirectConnections
from referkit.db.session import SessionFactory
from referkit.db.sqlite_writer import SqliteWriter, sqlite_path
from referkit.event.record import StoredEvent
from referkit.event.schemas import EventCreate
from referkit.event.writer import EventJob, EventWriter
from referkit.link.clicks import ClickJob, ClickWriter, PostgresClickWriter, SqliteClickWriter

PARALLEL_BATCHES = 2


class Ingest:
    def __init__(self, settings: Settings, sessions: SessionFactory) -> None:
        size, delay = settings.ingest_batch_max_size, settings.ingest_batch_max_delay_ms / 1000
        path = sqlite_path(sessions.engine.url)
        self.sqlite = SqliteWriter(path) if path else None
        self.postgres = (
            DirectConnections(sessions.engine, pgbouncer=settings.database_pgbouncer)
            if sessions.engine.dialect.driver == "asyncpg"
            else None
        )
        clicks: ClickWriter | SqliteClickWriter | PostgresClickWriter
        if self.sqlite is not None:
            clicks = SqliteClickWriter(self.sqlite)
        elif self.postgres is not None:
            clicks = PostgresClickWriter(self.postgres)
        else:
            clicks = ClickWriter(sessions.engine)
        self.click_writer = clicks
        # SQLite has one writer at a time; on PostgreSQL a second batch is sent while the
        # first one is in the database (concurrent batches wait only on shared rows: a reach
        # mark, a rollup, an event id replayed while its first copy is being committed).
        concurrency = 1 if sessions.engine.dialect.name == "sqlite" else PARALLEL_BATCHES
        self.clicks: GroupCommitter[ClickJob, str] = GroupCommitter(
            "clicks", clicks, max_size=size, max_delay=delay, concurrency=concurrency
        )
        self.events: GroupCommitter[EventJob, tuple[StoredEvent, bool]] = GroupCommitter(
            "events",
            EventWriter(
                sessions,
                sqlite=self.sqlite,
                postgres=self.postgres,
                signing_key=settings.signing_key,
            ),
            max_size=size,
            max_delay=delay,
            concurrency=concurrency,
        )

    def start(self) -> None:
        self.clicks.start()
        self.events.start()

    async def close(self) -> None:
        await self.clicks.close()
        await self.events.close()
        if self.postgres is not None:
            await self.postgres.close()
        if self.sqlite is not None:
            await self.sqlite.close()

    async def event(self, principal: Principal, body: EventCreate) -> tuple[StoredEvent, bool]:
        return await self.events.submit(EventJob(principal, body))

    async def events_many(
        self, principal: Principal, bodies: Sequence[EventCreate]
    ) -> list[tuple[StoredEvent, bool] | BaseException]:
        return await self.events.submit_many([EventJob(principal, body) for body in bodies])
