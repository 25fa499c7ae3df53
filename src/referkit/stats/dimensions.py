"""Dimension rollup deltas: per link and program, day, dimension and group value.

The click writers add the deltas of a batch's human clicks (bots and orphans are never counted)
and upsert them with the batch; a referral's creation adds a signup, a purchase a conversion
and its revenue (a refund takes the revenue back), each under the groups of the click they were
attributed to, in the transaction that writes them. Inside an event batch one
``DimensionBuffer`` waits in ``session.info`` (``DIMENSION_BUFFER_KEY``) so the batch upserts
once; outside a batch ``record_dimensions`` upserts at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.bulk import BulkInsert
from referkit.db.upsert import CounterRows
from referkit.models import AppClick, Click, DimensionRollup

CLICK_DIMENSIONS = (
    ("country", "country"),
    ("device", "device"),
    ("os", "os"),
    ("browser", "browser"),
    ("referrer", "referrer_host"),
    ("utm_source", "utm_source"),
    ("utm_campaign", "utm_campaign"),
)
"""(dimension, ``clicks`` column) for every click."""
APP_DIMENSIONS = ("network", "campaign")
"""Dimensions only app links have (from the click's ``app_clicks`` row)."""
DIMENSIONS = tuple(name for name, _ in CLICK_DIMENSIONS) + APP_DIMENSIONS
COUNTERS = ["clicks", "reach", "signups", "conversions", "revenue"]
KEY = ["workspace_id", "scope", "scope_id", "dimension", "day", "value", "currency"]
DIMENSION_BUFFER_KEY = "referkit.dimension_rollup_buffer"
_TABLE = cast(Table, DimensionRollup.__table__)
DIMENSION_UPSERT = BulkInsert(
    _TABLE,
    suffix=f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
    + ", ".join(f"{name} = dimension_rollups.{name} + excluded.{name}" for name in COUNTERS),
)
"""The counter upsert as one statement per batch, for the hot-path writers."""

Groups = dict[str, str]
"""Dimension → group value of one click (``""`` when unknown)."""


class DimensionBuffer(CounterRows):
    TABLE = _TABLE
    KEY = KEY
    COUNTERS = COUNTERS

    def add(
        self,
        *,
        workspace_id: str,
        livemode: bool,
        day: date,
        program_id: str | None,
        link_id: str | None,
        groups: Groups,
        currency: str = "",
        **counts: int,
    ) -> None:
        """Add ``counts`` to every group of ``groups`` for the link and the program."""
        day_text = day.isoformat()
        for scope, scope_id in (("link", link_id), ("program", program_id)):
            if scope_id is None:
                continue
            for dimension, value in groups.items():
                key = (workspace_id, scope, scope_id, dimension, day_text, value, currency)
                row = self.rows.get(key)
                if row is None:
                    row = self.rows[key] = {
                        "workspace_id": workspace_id,
                        "scope": scope,
                        "scope_id": scope_id,
                        "dimension": dimension,
                        "day": day_text,
                        "value": value,
                        "currency": currency,
                        "livemode": livemode,
                        **dict.fromkeys(COUNTERS, 0),
                    }
                for name, amount in counts.items():
                    row[name] += amount


def click_groups(row: dict[str, Any]) -> Groups:
    """The groups of a ``clicks`` row (its stored dimension columns)."""
    return {name: row[column] or "" for name, column in CLICK_DIMENSIONS}


def app_groups(app: dict[str, Any] | None) -> Groups:
    """The app dimensions of a click's ``app_clicks`` row (none for a plain web link)."""
    if app is None:
        return {}
    return {name: (app[name] or "")[:100] for name in APP_DIMENSIONS}


def counted(row: dict[str, Any]) -> bool:
    """Whether a click counts in breakdowns: a human click on a live link."""
    return not row["is_bot"] and not row["is_orphan"] and row["workspace_id"] is not None


def click_deltas(
    rows: Iterable[dict[str, Any]],
    apps: Sequence[dict[str, Any] | None] | None = None,
    *,
    only_apps: bool = False,
) -> DimensionBuffer:
    """The deltas of a batch's clicks (``is_unique`` decided), ``apps`` their app rows in the
    same order. ``only_apps``: the app dimensions alone (the PostgreSQL writer counts the
    others inside its batch statement)."""
    tally: Counter[tuple[Any, ...]] = Counter()
    for index, row in enumerate(rows):
        if not counted(row):
            continue
        app = apps[index] if apps is not None else None
        groups = app_groups(app) if only_apps else {**click_groups(row), **app_groups(app)}
        if not groups:
            continue
        key = (
            row["workspace_id"],
            row["livemode"],
            row["created_at"].date(),
            row["program_id"],
            row["link_id"],
            tuple(sorted(groups.items())),
            bool(row["is_unique"]),
        )
        tally[key] += 1
    buffer = DimensionBuffer()
    for (workspace_id, livemode, day, program_id, link_id, groups, unique), n in tally.items():
        buffer.add(
            workspace_id=workspace_id,
            livemode=livemode,
            day=day,
            program_id=program_id,
            link_id=link_id,
            groups=dict(groups),
            clicks=n,
            reach=n if unique else 0,
        )
    return buffer


async def groups_of_click(
    session: AsyncSession, workspace_id: str, livemode: bool, click_id: str | None
) -> Groups:
    """The groups an event or referral attributed to ``click_id`` counts under; every
    dimension ``""`` without a click (attributed by code, or not at all)."""
    groups: Groups = dict.fromkeys((name for name, _ in CLICK_DIMENSIONS), "")
    if click_id is None:
        return groups
    columns = [getattr(Click, column) for _, column in CLICK_DIMENSIONS]
    found = (
        await session.execute(
            select(*columns, AppClick.id, AppClick.network, AppClick.campaign)
            .outerjoin(
                AppClick, (AppClick.id == Click.id) & (AppClick.workspace_id == Click.workspace_id)
            )
            .where(
                Click.id == click_id,
                Click.workspace_id == workspace_id,
                Click.livemode == livemode,
            )
        )
    ).first()
    if found is None:
        return groups
    for (name, _), value in zip(CLICK_DIMENSIONS, found, strict=False):
        groups[name] = value or ""
    if found[-3] is not None:  # a click on an app link
        groups["network"] = (found[-2] or "")[:100]
        groups["campaign"] = (found[-1] or "")[:100]
    return groups


async def record_dimensions(session: AsyncSession, buffer: DimensionBuffer) -> None:
    """Write ``buffer`` now, or hand it to the batch this session belongs to."""
    batch: DimensionBuffer | None = session.info.get(DIMENSION_BUFFER_KEY)
    if batch is not None:
        batch.merge(buffer)
        return
    await buffer.write(session)
