"""The hot-path writers of one process: the click and event group-commit batchers."""

from __future__ import annotations

from collections.abc import Sequence

from referkit.auth.principal import Principal
from referkit.config import Settings
from referkit.db.batcher import GroupCommitter
from referkit.db.session import SessionFactory
from referkit.db.sqlite_writer import SqliteWriter, sqlite_path
from referkit.event.record import StoredEvent
from referkit.event.schemas import EventCreate
from referkit.event.writer import EventJob, EventWriter
from referkit.link.clicks import ClickJob, ClickWriter, PostgresClickWriter, SqliteClickWriter


class Ingest:
    def __init__(self, settings: Settings, sessions: SessionFactory) -> None:
        size, delay = settings.ingest_batch_max_size, settings.ingest_batch_max_delay_ms / 1000
        path = sqlite_path(sessions.engine.url)
        self.sqlite = SqliteWriter(path) if path else None
        clicks: ClickWriter | SqliteClickWriter | PostgresClickWriter
        if self.sqlite is not None:
            clicks = SqliteClickWriter(self.sqlite)
        elif sessions.engine.dialect.driver == "asyncpg":
            clicks = PostgresClickWriter(sessions.engine)
        else:
            clicks = ClickWriter(sessions.engine)
        self.click_writer = clicks
        self.clicks: GroupCommitter[ClickJob, str] = GroupCommitter(
            "clicks", clicks, max_size=size, max_delay=delay
        )
        self.events: GroupCommitter[EventJob, tuple[StoredEvent, bool]] = GroupCommitter(
            "events", EventWriter(sessions), max_size=size, max_delay=delay
        )

    def start(self) -> None:
        self.clicks.start()
        self.events.start()

    async def close(self) -> None:
        await self.clicks.close()
        await self.events.close()
        if isinstance(self.click_writer, PostgresClickWriter):
            await self.click_writer.close()
        if self.sqlite is not None:
            await self.sqlite.close()

    async def event(self, principal: Principal, body: EventCreate) -> tuple[StoredEvent, bool]:
        return await self.events.submit(EventJob(principal, body))

    async def events_many(
        self, principal: Principal, bodies: Sequence[EventCreate]
    ) -> list[tuple[StoredEvent, bool] | BaseException]:
        return await self.events.submit_many([EventJob(principal, body) for body in bodies])
