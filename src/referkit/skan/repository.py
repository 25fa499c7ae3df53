"""Queries of the skan domain: schema versions, postbacks, an install's events, apps by
App Store id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.partitions import created_near
from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.models import App, Event, SkanPostback, SkanSchema


class SkanSchemaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def latest(self, workspace_id: str, app_id: str) -> SkanSchema | None:
        result: SkanSchema | None = await self.session.scalar(
            select(SkanSchema)
            .where(SkanSchema.workspace_id == workspace_id, SkanSchema.app_id == app_id)
            .order_by(SkanSchema.version.desc())
            .limit(1)
        )
        return result

    async def in_force(self, workspace_id: str, app_id: str, at: datetime) -> SkanSchema | None:
        """The newest version created at or before ``at``; else the first one."""
        result: SkanSchema | None = await self.session.scalar(
            select(SkanSchema)
            .where(
                SkanSchema.workspace_id == workspace_id,
                SkanSchema.app_id == app_id,
                SkanSchema.created_at <= at,
            )
            .order_by(SkanSchema.version.desc())
            .limit(1)
        )
        if result is None:
            result = await self.session.scalar(
                select(SkanSchema)
                .where(SkanSchema.workspace_id == workspace_id, SkanSchema.app_id == app_id)
                .order_by(SkanSchema.version)
                .limit(1)
            )
        return result

    async def add(self, row: SkanSchema) -> None:
        self.session.add(row)
        await self.session.flush()


class SkanPostbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(
        self, workspace_id: str, transaction_id: str, verified: bool
    ) -> SkanPostback | None:
        result: SkanPostback | None = await self.session.scalar(
            select(SkanPostback).where(
                SkanPostback.workspace_id == workspace_id,
                SkanPostback.transaction_id == transaction_id,
                SkanPostback.verified == verified,
            )
        )
        return result

    async def add(self, row: SkanPostback) -> None:
        self.session.add(row)
        await self.session.flush()

    async def page(
        self, workspace_id: str, app_id: str, params: PageParams
    ) -> tuple[list[SkanPostback], PageMeta]:
        """The app's postbacks, newest first (ids are time-sortable)."""
        stmt = select(SkanPostback).where(
            SkanPostback.workspace_id == workspace_id, SkanPostback.app_id == app_id
        )
        return await paginate(self.session, stmt, SkanPostback.id, params)

    async def of_app(
        self, workspace_id: str, app_id: str, start: datetime, end: datetime
    ) -> list[SkanPostback]:
        result = await self.session.scalars(
            select(SkanPostback).where(
                SkanPostback.workspace_id == workspace_id,
                SkanPostback.app_id == app_id,
                SkanPostback.received_at >= start,
                SkanPostback.received_at < end,
            )
        )
        return list(result)

    async def apps_by_store_id(self, store_id: str) -> list[App]:
        """Apps whose iOS ``app_store_id`` is ``store_id``: live ones first, oldest first.

        Across workspaces (a postback names none): the one read that finds the workspace, on a
        database sharded by workspace a probe of every node, at most once per postback."""
        store = App.platforms["ios"]["app_store_id"].as_string()
        result = await self.session.scalars(
            select(App)
            .where(store == store_id)
            .order_by(App.livemode.desc(), App.created_at, App.id)
            .limit(10)
        )
        return list(result)


class InstallEventRepository:
    """An install and the app events credited to it (``attribution.install_id``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def install(
        self, workspace_id: str, livemode: bool, app_id: str, install_id: str
    ) -> Event | None:
        result: Event | None = await self.session.scalar(
            select(Event).where(
                Event.id == install_id,
                Event.workspace_id == workspace_id,
                created_near(Event.created_at, install_id),
                Event.livemode == livemode,
                Event.app_id == app_id,
                Event.type == "install",
            )
        )
        return result

    async def events(self, install: Event, until: datetime) -> list[dict[str, Any]]:
        """The install and the events credited to it up to ``until``. Ids are time-sortable,
        so the workspace's id index bounds the scan to events stored after the install."""
        credited = Event.attribution["install_id"].as_string()
        rows = await self.session.execute(
            select(Event.type, Event.name, Event.amount, Event.currency).where(
                Event.workspace_id == install.workspace_id,
                Event.livemode == install.livemode,
                Event.id > install.id,
                Event.app_id == install.app_id,
                credited == install.id,
                Event.occurred_at <= until,
            )
        )
        found = [dict(row._mapping) for row in rows]
        return [{"type": "install", "name": None, "amount": None, "currency": None}, *found]
