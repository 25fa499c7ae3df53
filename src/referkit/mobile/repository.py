"""Queries for apps, their clicks' app details, devices and app rollups."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.lookup import owned_by_id
from referkit.db.partitions import created_near
from referkit.db.upsert import dialect_insert
from referkit.event.record import EventRecord
from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.models import App, AppClick, AppDevice, AppRollup, Event, Link
from referkit.stats.app_rollups import APP_COUNTERS


class AppRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: str, livemode: bool, app_id: str) -> App | None:
        return await owned_by_id(self.session, App, workspace_id, livemode, app_id)

    async def page(
        self, workspace_id: str, livemode: bool, params: PageParams
    ) -> tuple[list[App], PageMeta]:
        stmt = select(App).where(App.workspace_id == workspace_id, App.livemode == livemode)
        return await paginate(self.session, stmt, App.id, params)

    async def all(self, workspace_id: str, livemode: bool) -> list[App]:
        rows = await self.session.scalars(
            select(App)
            .where(App.workspace_id == workspace_id, App.livemode == livemode)
            .order_by(App.id)
        )
        return list(rows)

    async def for_well_known(self, host: str) -> list[App]:
        """Live apps served from ``host`` (or naming no host), oldest first."""
        rows = await self.session.scalars(
            select(App)
            .where(
                App.livemode.is_(True),
                or_(App.link_domain.is_(None), App.link_domain == host),
            )
            .order_by(App.id)
            .limit(1000)
        )
        return list(rows)

    async def add(self, app: App) -> None:
        self.session.add(app)
        await self.session.flush()

    async def delete(self, app: App) -> None:
        await self.session.delete(app)
        await self.session.flush()

    async def link_codes(self, app_id: str) -> list[str]:
        rows = await self.session.scalars(
            select(Link.code_key).where(Link.app_id == app_id, Link.archived_at.is_(None))
        )
        return list(rows)

    async def archive_links(self, app_id: str, now: datetime) -> list[str]:
        rows = await self.session.execute(
            update(Link)
            .where(Link.app_id == app_id, Link.archived_at.is_(None))
            .values(archived_at=now, updated_at=now)
            .returning(Link.code_key)
        )
        return [row[0] for row in rows]


class AppClickRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: str, livemode: bool, click_id: str) -> AppClick | None:
        result: AppClick | None = await self.session.scalar(
            select(AppClick).where(
                AppClick.id == click_id,
                AppClick.workspace_id == workspace_id,
                AppClick.livemode == livemode,
                created_near(AppClick.created_at, click_id),
            )
        )
        return result

    async def by_ip(
        self, app_id: str, ip_hashes: list[str], since: datetime, until: datetime
    ) -> list[AppClick]:
        """Human clicks of the app from these IP hashes in ``[since, until]``, newest first
        (an indexed range: app, hash, time)."""
        rows = await self.session.scalars(
            select(AppClick)
            .where(
                AppClick.app_id == app_id,
                AppClick.ip_hash.in_(ip_hashes),
                AppClick.created_at >= since,
                AppClick.created_at <= until,
                AppClick.is_bot.is_(False),
            )
            .order_by(AppClick.created_at.desc())
            .limit(50)
        )
        return list(rows)

    async def by_ips(
        self, app_id: str, ip_hashes: list[str], since: datetime, until: datetime
    ) -> list[AppClick]:
        """``by_ip`` for a whole batch of installs: one query per 500 hashes."""
        found: list[AppClick] = []
        for start in range(0, len(ip_hashes), 500):
            rows = await self.session.scalars(
                select(AppClick).where(
                    AppClick.app_id == app_id,
                    AppClick.ip_hash.in_(ip_hashes[start : start + 500]),
                    AppClick.created_at >= since,
                    AppClick.created_at <= until,
                    AppClick.is_bot.is_(False),
                )
            )
            found.extend(rows)
        return found

    async def claim(self, workspace_id: str, click_id: str, install_id: str) -> bool:
        """Mark the click as claimed by ``install_id`` unless another install has it: the
        conditional update is what makes a click count for one install at most."""
        result = await self.session.execute(
            update(AppClick)
            .where(
                AppClick.workspace_id == workspace_id,
                AppClick.id == click_id,
                created_near(AppClick.created_at, click_id),
                AppClick.install_id.is_(None),
            )
            .values(install_id=install_id)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1


class DeviceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, app_id: str, device_hash: str) -> AppDevice | None:
        result: AppDevice | None = await self.session.scalar(
            select(AppDevice).where(
                AppDevice.app_id == app_id, AppDevice.device_hash == device_hash
            )
        )
        return result

    async def seen(self, row: dict[str, Any]) -> bool:
        """Record an install from this device; True when the device had installed before.

        One upsert, so two concurrent first installs of a device cannot both be first."""
        installs = await self.session.scalar(_seen_statement(self.session), row)
        return int(installs or 1) > 1

    async def seen_many(self, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        """Add each row's ``installs`` to its device (inserting new devices); the device
        totals after the update, by (app id, device hash). Rows name distinct devices."""
        table = cast(Table, AppDevice.__table__)
        totals: dict[tuple[str, str], int] = {}
        for start in range(0, len(rows), 1000):  # within both databases' parameter limits
            stmt = dialect_insert(self.session, table).values(rows[start : start + 1000])
            stmt = stmt.on_conflict_do_update(
                index_elements=["workspace_id", "app_id", "device_hash"],
                set_={
                    "installs": table.c.installs + stmt.excluded.installs,
                    "last_install_id": stmt.excluded.last_install_id,
                    "updated_at": stmt.excluded.updated_at,
                },
            ).returning(table.c.app_id, table.c.device_hash, table.c.installs)
            for app_id, hashed, installs in await self.session.execute(stmt):
                totals[(app_id, hashed)] = int(installs)
        return totals


_SEEN: dict[str, Any] = {}


def _seen_statement(session: AsyncSession) -> Any:
    """``DeviceRepository.seen``'s upsert, built once per dialect (every install runs it)."""
    name = session.get_bind().dialect.name
    stmt = _SEEN.get(name)
    if stmt is None:
        table = cast(Table, AppDevice.__table__)
        columns = (
            "app_id",
            "device_hash",
            "workspace_id",
            "livemode",
            "first_install_id",
            "last_install_id",
            "installs",
            "created_at",
            "updated_at",
        )
        insert = dialect_insert(session, table).values({c: bindparam(c) for c in columns})
        stmt = _SEEN[name] = insert.on_conflict_do_update(
            index_elements=["workspace_id", "app_id", "device_hash"],
            set_={
                "installs": table.c.installs + 1,
                "last_install_id": insert.excluded.last_install_id,
                "updated_at": insert.excluded.updated_at,
            },
        ).returning(table.c.installs)
    return stmt


class AppRollupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sums(
        self,
        workspace_id: str,
        livemode: bool,
        *,
        dimension: str,
        day_from: str,
        day_to: str,
        app_id: str | None = None,
        by: str = "value",
    ) -> list[Row[Any]]:
        """Summed counters per (group, currency): ``by`` is ``value``, ``day`` or ``app_id``.
        Reads ``days * groups`` rows, never events."""
        group = getattr(AppRollup, by)
        stmt = (
            select(
                group.label("key"),
                AppRollup.currency,
                *(func.sum(getattr(AppRollup, name)).label(name) for name in APP_COUNTERS),
            )
            .where(
                AppRollup.workspace_id == workspace_id,
                AppRollup.livemode == livemode,
                AppRollup.dimension == dimension,
                AppRollup.day >= day_from,
                AppRollup.day <= day_to,
            )
            .group_by(group, AppRollup.currency)
        )
        if app_id is not None:
            stmt = stmt.where(AppRollup.app_id == app_id)
        return list(await self.session.execute(stmt))


class AppEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def install(
        self, workspace_id: str, livemode: bool, app_id: str, install_id: str
    ) -> EventRecord | None:
        table = Event.__table__
        result = await self.session.execute(
            select(table).where(
                table.c.id == install_id,
                table.c.workspace_id == workspace_id,
                table.c.livemode == livemode,
                table.c.app_id == app_id,
                table.c.type == "install",
            )
        )
        row = result.mappings().first()
        return EventRecord(**row) if row is not None else None

    async def link(self, link_id: str) -> Link | None:
        result: Link | None = await self.session.scalar(select(Link).where(Link.id == link_id))
        return result
