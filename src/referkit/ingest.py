"""The hot-path writers of one process: the click and event group-commit batchers."""

from __future__ import annotations

from referkit.auth.principal import Principal
from referkit.config import Settings
from referkit.db.batcher import GroupCommitter
from referkit.db.session import SessionFactory
from referkit.event.schemas import EventCreate
from referkit.event.writer import EventJob, EventWriter
from referkit.link.clicks import ClickJob, ClickWriter
from referkit.models import Event


class Ingest:
    def __init__(self, settings: Settings, sessions: SessionFactory) -> None:
        size, delay = settings.ingest_batch_max_size, settings.ingest_batch_max_delay_ms / 1000
        self.clicks: GroupCommitter[ClickJob, str] = GroupCommitter(
            "clicks", ClickWriter(sessions.engine), max_size=size, max_delay=delay
        )
        self.events: GroupCommitter[EventJob, tuple[Event, bool]] = GroupCommitter(
            "events", EventWriter(sessions), max_size=size, max_delay=delay
        )

    def start(self) -> None:
        self.clicks.start()
        self.events.start()

    async def close(self) -> None:
        await self.clicks.close()
        await self.events.close()

    async def event(self, principal: Principal, body: EventCreate) -> tuple[Event, bool]:
        return await self.events.submit(EventJob(principal, body))
