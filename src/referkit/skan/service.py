"""SKAN schemas, conversion values and postbacks.

Schemas are versioned per app (``SkanSchema`` rows, append-only). The value of an install is
computed from the events credited to it since install. Postbacks are stored whatever their
signature; a verified one is decoded with the schema in force at its install's estimated time
(Apple sends no install time: the window's end plus the 24-hour minimum delay before the
receipt is the latest the install can have happened) and is the only kind counted.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import NotFound, Unprocessable
from referkit.kit.ids import looks_like_id, new_id
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.time import as_utc, utcnow
from referkit.mobile.service import AppService
from referkit.models import App, SkanPostback, SkanSchema
from referkit.skan import rules
from referkit.skan.repository import (
    InstallEventRepository,
    SkanPostbackRepository,
    SkanSchemaRepository,
)
from referkit.skan.schemas import (
    PostbackAck,
    PostbackStatus,
    SkanCampaignStats,
    SkanSchemaInput,
    SkanStats,
    SkanValue,
    SkanValueCount,
    SkanWindowStats,
)
from referkit.skan.schemas import SkanSchema as SkanSchemaOut
from referkit.skan.verify import Postback, parse

POSTBACK_DELAY = timedelta(hours=24)
UNMATCHED = ""
"""The workspace of postbacks whose ``app-id`` names no app (as orphan clicks' is)."""


def schema_out(row: SkanSchema) -> SkanSchemaOut:
    return SkanSchemaOut.model_validate(
        {
            **row.definition,
            "app_id": row.app_id,
            "version": row.version,
            "created_at": row.created_at,
        }
    )


def _definition(row: SkanSchema) -> SkanSchemaInput:
    return SkanSchemaInput.model_validate(row.definition)


class SkanService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.apps = AppService(session)
        self.schemas = SkanSchemaRepository(session)
        self.postbacks = SkanPostbackRepository(session)
        self.installs = InstallEventRepository(session)

    # --- schema -----------------------------------------------------------------------------

    async def get_schema(self, principal: Principal, app_id: str) -> SkanSchemaOut:
        app = await self.apps.get(principal, app_id)
        row = await self.schemas.latest(app.workspace_id, app.id)
        if row is None:
            raise NotFound(f"App {app.id} has no SKAN schema yet; PUT one first.")
        return schema_out(row)

    async def put_schema(
        self, principal: Principal, app_id: str, body: SkanSchemaInput
    ) -> SkanSchemaOut:
        app = await self.apps.get(principal, app_id)
        errors = rules.validate(body)
        if errors:
            raise Unprocessable(
                "The SKAN schema is inconsistent: " + "; ".join(e["message"] for e in errors),
                code="validation_error",
                errors=errors,
            )
        latest = await self.schemas.latest(app.workspace_id, app.id)
        row = SkanSchema(
            id=new_id("skan"),
            workspace_id=app.workspace_id,
            livemode=app.livemode,
            app_id=app.id,
            version=(latest.version + 1) if latest else 1,
            definition=body.model_dump(mode="json"),
            created_at=utcnow(),
        )
        await self.schemas.add(row)
        return schema_out(row)

    # --- value ------------------------------------------------------------------------------

    async def value(self, principal: Principal, app_id: str, install_id: str) -> SkanValue:
        app = await self.apps.get(principal, app_id)
        row = await self.schemas.latest(app.workspace_id, app.id)
        if row is None:
            raise NotFound(f"App {app.id} has no SKAN schema yet; PUT one first.")
        install = None
        if looks_like_id(install_id, "evt"):
            install = await self.installs.install(
                app.workspace_id, app.livemode, app.id, install_id
            )
        if install is None:
            raise NotFound(f"No install {install_id} of app {app.id}.")
        schema = _definition(row)
        now = utcnow()
        seen = rules.tally(await self.installs.events(install, now), schema.currency)
        window = rules.window_of(now - as_utc(install.occurred_at))
        return SkanValue(
            install_id=install.id,
            window=window,
            fine=rules.fine_value(schema, seen) if window == 1 else None,
            coarse=rules.coarse_value(schema, window, seen) if window else None,
            lock=rules.locked(schema, window, seen) if window else False,
            schema_version=row.version,
            events=seen.total,
            revenue=seen.revenue,
        )

    # --- postbacks --------------------------------------------------------------------------

    async def receive(self, body: Any, extra_keys: list[str]) -> PostbackAck:
        postback = parse(body, extra_keys)
        # The app (and so the workspace) first: postbacks are kept and deduplicated per
        # workspace, and '' holds those that match no app.
        store_id = postback.get_str("app-id")
        apps = await self.postbacks.apps_by_store_id(store_id) if store_id else []
        app = apps[0] if apps else None
        workspace_id = app.workspace_id if app is not None else UNMATCHED
        existing = await self.postbacks.find(
            workspace_id, postback.transaction_id, postback.verified
        )
        if existing is not None:
            return self._ack(existing, PostbackStatus.duplicate)
        row = await self._row(postback, app)
        try:
            async with self.session.begin_nested():
                await self.postbacks.add(row)
        except IntegrityError:
            # The same transaction arrived concurrently: the first one stored wins.
            winner = await self.postbacks.find(
                workspace_id, postback.transaction_id, postback.verified
            )
            if winner is None:
                raise
            return self._ack(winner, PostbackStatus.duplicate)
        return self._ack(row, PostbackStatus.stored)

    @staticmethod
    def _ack(row: SkanPostback, status: PostbackStatus) -> PostbackAck:
        return PostbackAck(
            id=row.id,
            status=status,
            verified=row.verified,
            verification=row.verification,
            app_id=row.app_id,
        )

    async def _row(self, postback: Postback, app: App | None) -> SkanPostback:
        now = utcnow()
        store_id = postback.get_str("app-id")
        sequence = postback.get_int("postback-sequence-index") or 0
        sequence = sequence if sequence in (0, 1, 2) else 0
        fine = postback.get_int("conversion-value")
        coarse = postback.get_str("coarse-conversion-value")
        coarse = coarse if coarse in rules.COARSE_VALUES else None
        row = SkanPostback(
            id=new_id("skp"),
            workspace_id=UNMATCHED,
            kind=postback.kind,
            version=postback.version,
            transaction_id=postback.transaction_id,
            store_app_id=(store_id or "")[:20] or None,
            ad_network_id=(postback.get_str("ad-network-id") or "")[:200] or None,
            source_identifier=(
                postback.get_str("source-identifier") or postback.get_str("campaign-id") or ""
            )[:20]
            or None,
            source_app_id=(postback.get_str("source-app-id") or "")[:20] or None,
            source_domain=(postback.get_str("source-domain") or "")[:255] or None,
            redownload=postback.get_bool("redownload"),
            fidelity_type=postback.get_int("fidelity-type"),
            did_win=postback.get_bool("did-win"),
            sequence_index=sequence,
            fine_value=fine if fine is not None and 0 <= fine <= 63 else None,
            coarse_value=coarse,
            verified=postback.verified,
            verification=postback.verification[:200],
            payload=postback.raw,
            received_at=now,
        )
        if app is not None:
            row.workspace_id, row.livemode, row.app_id = app.workspace_id, app.livemode, app.id
            install_at = now - rules.WINDOW_ENDS[sequence] - POSTBACK_DELAY
            schema = await self.schemas.in_force(app.workspace_id, app.id, install_at)
            if schema is not None:
                row.schema_version = schema.version
                row.decoded = rules.decode(
                    _definition(schema), sequence + 1, row.fine_value, row.coarse_value
                )
        return row

    async def list_postbacks(
        self, principal: Principal, app_id: str, params: PageParams
    ) -> tuple[list[SkanPostback], PageMeta]:
        """The app's postbacks as received, verified or not, newest first."""
        app = await self.apps.get(principal, app_id)
        return await self.postbacks.page(app.workspace_id, app.id, params)

    # --- stats ------------------------------------------------------------------------------

    async def stats(
        self, workspace_id: str, app_id: str, day_from: date, day_to: date
    ) -> SkanStats:
        """SKAN installs and decoded values per campaign and window (the app is already
        resolved by the caller, tenancy included)."""
        start = datetime.combine(day_from, time.min, tzinfo=UTC)
        end = datetime.combine(day_to + timedelta(days=1), time.min, tzinfo=UTC)
        rows = await self.postbacks.of_app(workspace_id, app_id, start, end)
        counted = [r for r in rows if r.verified and r.did_win is not False]
        groups: dict[str | None, dict[int, list[SkanPostback]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for row in counted:
            groups[row.source_identifier][row.sequence_index + 1].append(row)
        campaigns = [
            SkanCampaignStats(
                source_identifier=source,
                installs=len(windows.get(1, [])),
                windows=[_window(n, windows[n]) for n in sorted(windows)],
            )
            for source, windows in groups.items()
        ]
        campaigns.sort(key=lambda c: (-c.installs, c.source_identifier or ""))
        return SkanStats(
            installs=sum(c.installs for c in campaigns),
            postbacks=len(counted),
            unverified=sum(1 for r in rows if not r.verified),
            campaigns=campaigns,
        )


def _window(number: int, rows: list[SkanPostback]) -> SkanWindowStats:
    values: dict[tuple[int | None, str | None], list[SkanPostback]] = defaultdict(list)
    for row in rows:
        values[(row.fine_value, row.coarse_value)].append(row)
    out = []
    for (fine, coarse), group in values.items():
        decoded = group[0].decoded or {}
        part = decoded.get("fine") if fine is not None else decoded.get("coarse")
        out.append(
            SkanValueCount(
                fine=fine,
                coarse=coarse,
                postbacks=len(group),
                range=(part or {}).get("range"),
            )
        )
    out.sort(key=lambda v: (-v.postbacks, v.fine if v.fine is not None else -1, v.coarse or ""))
    return SkanWindowStats(window=number, postbacks=len(rows), values=out)
