"""App rollup deltas: per app and day, along four dimensions (the app itself, link, network,
campaign), upserted in the transaction of the clicks and events they count.

The click batcher adds its app clicks' deltas and writes them with the batch; the event batch
puts one ``AppRollupBuffer`` in ``session.info`` (``APP_BUFFER_KEY``) so every app event of the
batch adds to it and the batch upserts once (``record_app`` writes at once outside a batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from referkit.db.bulk import BulkInsert
from referkit.db.upsert import add_counters
from referkit.models import AppRollup

APP_COUNTERS = ["clicks", "installs", "reinstalls", "opens", "events", "conversions", "revenue"]
APP_KEY = ["workspace_id", "app_id", "dimension", "value", "day", "currency"]
DIMENSIONS = ("app", "link", "network", "campaign")
APP_BUFFER_KEY = "referkit.app_rollup_buffer"
_TABLE = cast(Table, AppRollup.__table__)
APP_UPSERT = BulkInsert(
    _TABLE,
    suffix=f" ON CONFLICT ({', '.join(APP_KEY)}) DO UPDATE SET "
    + ", ".join(f"{name} = app_rollups.{name} + excluded.{name}" for name in APP_COUNTERS),
)


@dataclass
class AppRollupBuffer:
    rows: dict[tuple[str, str, str, str, str], dict[str, Any]] = field(default_factory=dict)

    def add(
        self,
        *,
        workspace_id: str,
        livemode: bool,
        app_id: str,
        day: date,
        link_id: str | None,
        network: str | None,
        campaign: str | None,
        currency: str = "",
        **counts: int,
    ) -> None:
        day_text = day.isoformat()
        values = {"app": "", "link": link_id, "network": network or "", "campaign": campaign or ""}
        for dimension, value in values.items():
            if value is None:
                continue  # an unattributed install has no link row
            key = (app_id, dimension, value[:200], day_text, currency)
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = {
                    "app_id": app_id,
                    "dimension": dimension,
                    "value": value[:200],
                    "day": day_text,
                    "currency": currency,
                    "workspace_id": workspace_id,
                    "livemode": livemode,
                    **dict.fromkeys(APP_COUNTERS, 0),
                }
            for name, amount in counts.items():
                row[name] += amount

    def __bool__(self) -> bool:
        return bool(self.rows)

    def sorted_rows(self) -> list[dict[str, Any]]:
        """Sorted: concurrent transactions take row locks in one order (no deadlock)."""
        return [self.rows[key] for key in sorted(self.rows)]

    async def write(self, bind: AsyncSession | AsyncConnection) -> None:
        rows = self.sorted_rows()
        if rows:
            await add_counters(bind, _TABLE, rows, key=APP_KEY, counters=APP_COUNTERS)
        self.rows.clear()

    def merge(self, other: AppRollupBuffer) -> None:
        for key, row in other.rows.items():
            mine = self.rows.get(key)
            if mine is None:
                self.rows[key] = dict(row)
            else:
                for name in APP_COUNTERS:
                    mine[name] += row[name]


def app_click_deltas(rows: list[dict[str, Any]]) -> AppRollupBuffer:
    """The rollup deltas of a batch's app clicks (bots are stored, never counted)."""
    buffer = AppRollupBuffer()
    for row in rows:
        if row["is_bot"]:
            continue
        buffer.add(
            workspace_id=row["workspace_id"],
            livemode=row["livemode"],
            app_id=row["app_id"],
            day=row["created_at"].date(),
            link_id=row["link_id"],
            network=row["network"],
            campaign=row["campaign"],
            clicks=1,
        )
    return buffer


async def record_app(session: AsyncSession, buffer: AppRollupBuffer) -> None:
    """Write ``buffer`` now, or hand it to the batch this session belongs to."""
    batch: AppRollupBuffer | None = session.info.get(APP_BUFFER_KEY)
    if batch is not None:
        batch.merge(buffer)
        return
    await buffer.write(session)
