"""App events inside the event batch: installs, opens and in-app events of an app.

``EventService.ingest`` hands every event with an ``app_id`` here (the same ledger, the same
idempotency on ``event_id``): ``POST /apps/{id}/installs`` and ``POST /events`` with
``type: install`` are one path. An install is attributed (``mobile.attribution``), marked a
reinstall when its device (hashed ``idfv`` / ``gaid``) installed before, and answers the
matched link's deep link. An ``open`` with a click within the reattribution window is credited
to that click; other opens and in-app events are credited like their install (``install_id``,
else the device's last install). Every app event adds to the app rollups in its transaction
and, once attributed, passes the ``mobile.hooks.attributed`` point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import InsufficientScope, Unprocessable
from referkit.event.record import EventRecord, StoredEvent
from referkit.event.schemas import EventCreate, EventType
from referkit.kit.ids import new_id
from referkit.link.detect import platform_of
from referkit.mobile.attribution import (
    Evidence,
    InstallAttribution,
    InstallDecision,
    Prefetched,
    ip_hashes,
)
from referkit.mobile.hooks import app_event, attributed
from referkit.mobile.repository import AppClickRepository, AppEventRepository, DeviceRepository
from referkit.mobile.service import AppService, app_settings
from referkit.models import App, AppClick
from referkit.stats.app_rollups import AppRollupBuffer, record_app

CLIENT_EVENT_TYPES = frozenset(
    {EventType.install, EventType.open, EventType.signup, EventType.purchase, EventType.custom}
)
"""What an app's client key may send: installs, opens and in-app events (no refunds)."""


def check_client_event(principal: Principal, body: EventCreate) -> None:
    """A client key (``pk_app_…``) sends its own app's device events, nothing else."""
    if principal.app_id is None:
        return
    if body.app_id != principal.app_id:
        raise InsufficientScope(f"This client key may only send events of app {principal.app_id}.")
    if body.type not in CLIENT_EVENT_TYPES:
        raise InsufficientScope(f"A client key cannot send {body.type.value} events.")


def device_hash(key: bytes, app_id: str, device_id: str) -> str:
    return hashlib.blake2b(
        f"{app_id}\n{device_id}".encode(), key=key[:64], digest_size=20
    ).hexdigest()


def deep_link(app: App, path: str | None, params: dict[str, str] | None) -> dict[str, Any] | None:
    """``{url, path, params}`` for the app to open on first launch (None: the link has none)."""
    if not path and not params:
        return None
    url = None
    if app.deep_link_scheme:
        query = f"?{urlencode(params)}" if params else ""
        url = f"{app.deep_link_scheme}://{(path or '').lstrip('/')}{query}"
    return {"url": url, "path": path, "params": params or {}}


def _identity(body: EventCreate) -> dict[str, str]:
    """What the request says about the person and device, for forwarders to hash."""
    found = {
        "email": body.customer.email if body.customer else None,
        "external_id": body.customer.external_id if body.customer else None,
        "advertising_id": body.device.gaid if body.device else None,
    }
    return {k: str(v) for k, v in found.items() if v}


def _device_row(app: App, hashed: str, install_id: str, now: datetime) -> dict[str, Any]:
    return {
        "app_id": app.id,
        "device_hash": hashed,
        "workspace_id": app.workspace_id,
        "livemode": app.livemode,
        "first_install_id": install_id,
        "last_install_id": install_id,
        "installs": 1,
        "created_at": now,
        "updated_at": now,
    }


class AppEventService:
    def __init__(
        self,
        session: AsyncSession,
        signing_key: bytes,
        *,
        apps: dict[tuple[str, bool, str], App] | None = None,
        prefetched: Prefetched | None = None,
        installs: dict[tuple[str, bool, str], tuple[str, bool]] | None = None,
    ) -> None:
        self.session = session
        self.key = signing_key
        self._apps = apps if apps is not None else {}
        self._prefetched = prefetched
        self._installs = installs if installs is not None else {}
        """(workspace, mode, event_id) → (row id, reinstall) of installs registered for the
        batch by ``register_devices``."""
        self.apps = AppService(session)
        self.clicks = AppClickRepository(session)
        self.devices = DeviceRepository(session)
        self.events = AppEventRepository(session)

    async def _app(self, principal: Principal, app_id: str) -> App:
        cache_key = (principal.workspace_id, principal.livemode, app_id)
        app = self._apps.get(cache_key)
        if app is None:
            app = self._apps[cache_key] = await self.apps.referenced(principal, app_id)
        return app

    async def prefetch(self, items: Sequence[tuple[Principal, EventCreate]], now: datetime) -> None:
        """Read the clicks every install of a batch may match in one query per app, rather
        than one per install (a round trip each: most of an install's cost on PostgreSQL)."""
        assert self._prefetched is not None
        wanted: dict[str, tuple[App, set[str], datetime, datetime]] = {}
        for principal, body in items:
            ip = (body.device.ip if body.device else None) or body.ip
            if body.type is not EventType.install or body.app_id is None or ip is None:
                continue
            try:
                app = await self._app(principal, body.app_id)
            except Unprocessable:
                continue  # refused when the event itself is ingested
            hours = app_settings(app, self.session).probabilistic_window_hours
            if not hours:
                continue
            at = body.occurred_at or now
            since = at - timedelta(hours=hours)
            entry = wanted.get(app.id) or (app, set(), since, at)
            entry[1].update(ip_hashes(self.key, ip, since, at))
            wanted[app.id] = (app, entry[1], min(entry[2], since), max(entry[3], at))
        for app_id, (_, hashes, since, until) in wanted.items():
            found: dict[str, list[AppClick]] = {}
            for click in await self.clicks.by_ips(app_id, sorted(hashes), since, until):
                found.setdefault(click.ip_hash, []).append(click)
            self._prefetched[app_id] = found

    async def register_devices(
        self, items: Sequence[tuple[Principal, EventCreate]], now: datetime
    ) -> None:
        """Record the devices of a batch's new installs in one upsert, rather than one round
        trip per install, and keep for each install its row id and whether it is a reinstall.

        ``items`` are the installs ``ingest`` will store, in batch order. Each device row gets
        the batch's count added atomically; the count before it tells whether the device
        installed before, so concurrent batches still cannot both see a first install."""
        grouped: dict[tuple[str, str], list[tuple[str, bool, str]]] = {}
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        ids: dict[tuple[str, bool, str], str] = {}
        for principal, body in items:
            device = body.device
            device_id = (device.idfv or device.gaid) if device is not None else None
            if body.app_id is None or not device_id:
                continue
            try:
                app = await self._app(principal, body.app_id)
            except Unprocessable:
                continue  # refused when the event itself is ingested
            key = (principal.workspace_id, principal.livemode, body.event_id)
            row_id = ids[key] = new_id("evt")
            device_key = (app.id, device_hash(self.key, app.id, device_id))
            grouped.setdefault(device_key, []).append(key)
            row = rows.get(device_key)
            if row is None:
                rows[device_key] = row = _device_row(app, device_key[1], row_id, now)
                row["installs"] = 0
            row["installs"] += 1
            row["last_install_id"] = row_id
        if not rows:
            return
        # Sorted: concurrent batches lock device rows in one order.
        totals = await self.devices.seen_many([rows[k] for k in sorted(rows)])
        for device_key, keys in grouped.items():
            before = totals[device_key] - len(keys)
            for index, key in enumerate(keys):
                self._installs[key] = (ids[key], before + index > 0)

    async def ingest(
        self, principal: Principal, body: EventCreate, now: datetime, pending: list[EventRecord]
    ) -> EventRecord:
        """The stored row of one app event; ``pending`` are the batch's rows not yet inserted."""
        assert body.app_id is not None
        app = await self._app(principal, body.app_id)
        at = body.occurred_at or now
        registered = self._installs.get((principal.workspace_id, principal.livemode, body.event_id))
        event = EventRecord(
            id=registered[0] if registered else new_id("evt"),
            workspace_id=principal.workspace_id,
            livemode=principal.livemode,
            event_id=body.event_id,
            type=body.type.value,
            occurred_at=at,
            created_at=now,
            name=body.name,
            app_id=app.id,
            amount=body.amount,
            currency=body.currency,
            refunded_event_id=body.refunded_event_id,
            properties=body.properties,
            ip=body.ip or (body.device.ip if body.device else None),
            user_agent=body.user_agent or (body.device.user_agent if body.device else None),
        )
        if body.type is EventType.install:
            reinstall = registered[1] if registered else await self._reinstall(app, body, event)
            await self._install(principal, app, body, event, reinstall)
        else:
            await self._credit(principal, app, body, event, pending)
        await self._count(event, body)
        if event.click_id is not None:
            await attributed(self.session, app, event)
        await app_event(self.session, app, event, _identity(body))
        return event

    async def _install(
        self, principal: Principal, app: App, body: EventCreate, event: EventRecord, reinstall: bool
    ) -> None:
        settings = app_settings(app, self.session)
        evidence = Evidence.of(
            body.device,
            at=event.occurred_at,
            ip=event.ip,
            click_id=body.click_id,
            install_referrer=body.install_referrer,
            user_agent_os=platform_of(event.user_agent) if event.user_agent else None,
        )
        decision = await InstallAttribution(self.session, self.key, self._prefetched).decide(
            principal,
            app,
            evidence,
            event.id,
            click_window=timedelta(days=settings.click_window_days),
            probabilistic_window=timedelta(hours=settings.probabilistic_window_hours),
        )
        self._apply(event, decision.as_dict(), decision)
        attribution = event.attribution or {}
        attribution["reinstall"] = reinstall
        attribution["deep_link"] = await self._deep_link(app, event.link_id)
        attribution["windows"] = settings.model_dump()
        event.outcome = {"install": {"reinstall": reinstall}}

    async def _reinstall(self, app: App, body: EventCreate, event: EventRecord) -> bool:
        device = body.device
        device_id = device.idfv or device.gaid if device is not None else None
        if not device_id:
            return False
        row = _device_row(app, device_hash(self.key, app.id, device_id), event.id, event.created_at)
        return await self.devices.seen(row)

    async def _deep_link(self, app: App, link_id: str | None) -> dict[str, Any] | None:
        if link_id is None:
            return None
        link = await self.events.link(link_id)
        return deep_link(app, link.deep_link_path, link.deep_link_params) if link else None

    @staticmethod
    def _apply(
        event: EventRecord, attribution: dict[str, Any], decision: InstallDecision | None
    ) -> None:
        event.attribution = attribution
        event.click_id = attribution.get("click_id")
        event.link_id = attribution.get("link_id")
        if decision is not None and decision.click is not None:
            event.member_id = None  # app clicks credit links and networks, not referrers

    async def _credit(
        self,
        principal: Principal,
        app: App,
        body: EventCreate,
        event: EventRecord,
        pending: list[EventRecord],
    ) -> None:
        """An open or in-app event: a fresh click re-attributes an open; otherwise the
        event is credited like its install."""
        settings = app_settings(app, self.session)
        if body.type is EventType.open and body.click_id and settings.reattribution_window_days:
            click = await self.clicks.get(principal.workspace_id, principal.livemode, body.click_id)
            window = timedelta(days=settings.reattribution_window_days)
            if (
                click is not None
                and click.app_id == app.id
                and not click.is_bot
                and event.occurred_at - window <= click.created_at <= event.occurred_at
            ):
                decision = InstallDecision(method="reattribution", click=click, confidence=1.0)
                decision.explanation = (
                    f"The app was opened from click {click.id} on link {click.link_id}, within "
                    f"the {settings.reattribution_window_days}-day reattribution window."
                )
                self._apply(event, decision.as_dict(), decision)
                return
        install = await self._install_of(app, body, pending)
        if install is None or not install.attribution:
            event.attribution = {
                "method": "organic",
                "explanation": "No install of this device is known, or it was organic.",
            }
            return
        inherited = dict(install.attribution)
        for transient in ("candidates", "reinstall", "deep_link", "windows"):
            inherited.pop(transient, None)
        if inherited.get("click_id") is None:
            inherited["explanation"] = f"Install {install.id} was organic; so is this event."
        else:
            inherited["explanation"] = (
                f"Credited like install {install.id} ({inherited['method']}, click "
                f"{inherited['click_id']})."
            )
        inherited["method"] = "install" if inherited.get("click_id") else "organic"
        inherited["install_id"] = install.id
        self._apply(event, inherited, None)

    async def _install_of(
        self, app: App, body: EventCreate, pending: list[EventRecord]
    ) -> StoredEvent | None:
        install_id = body.install_id
        if install_id is None and body.device is not None:
            device_id = body.device.idfv or body.device.gaid
            if device_id:
                device = await self.devices.get(app.id, device_hash(self.key, app.id, device_id))
                install_id = device.last_install_id if device else None
        if install_id is None:
            return None
        for row in pending:
            if row.id == install_id and row.app_id == app.id:
                return row
        return await self.events.install(app.workspace_id, app.livemode, app.id, install_id)

    async def _count(self, event: EventRecord, body: EventCreate) -> None:
        attribution = event.attribution or {}
        counts: dict[str, Any] = {}
        if body.type is EventType.install:
            counts["reinstalls" if attribution.get("reinstall") else "installs"] = 1
        elif body.type is EventType.open:
            counts["opens"] = 1
        else:
            counts["events"] = 1
            if body.type is EventType.purchase:
                counts["conversions"] = 1
        scope: dict[str, Any] = {
            "workspace_id": event.workspace_id,
            "livemode": event.livemode,
            "app_id": event.app_id,
            "day": event.occurred_at.date(),
            "link_id": event.link_id,
            "network": attribution.get("network"),
            "campaign": attribution.get("campaign"),
        }
        buffer = AppRollupBuffer()
        buffer.add(**scope, **counts)
        if event.amount and event.currency and body.type in (EventType.purchase, EventType.refund):
            sign = -1 if body.type is EventType.refund else 1
            buffer.add(**scope, currency=event.currency, revenue=sign * event.amount)
        await record_app(self.session, buffer)
