"""Rollup deltas: collect per-day counter increments, then upsert them in one statement.

Every writer (the click and event batchers, the referral service) adds its deltas to a
``RollupBuffer`` and writes it in the same transaction as the rows being counted. Inside a
batch, the batcher puts one buffer in ``session.info`` so every service call of the batch adds
to it and the batch upserts once; outside a batch, ``record`` upserts at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from referkit.db.bulk import BulkInsert
from referkit.db.upsert import add_counters
from referkit.link.changes import link_changes
from referkit.models import Rollup

COUNTERS = [
    "clicks",
    "bot_clicks",
    "reach",
    "installs",
    "signups",
    "referrals",
    "qualified",
    "conversions",
    "revenue",
]
KEY = ["workspace_id", "scope", "scope_id", "day", "currency"]
MEMBER_MONTH = "mem_month"
"""Per member and month (``day`` is ``2026-11``): the leaderboard reads one row per member."""
MEMBER_ALL = "mem_all"
"""Per member, all time (``day`` is ``all``)."""
ALL_TIME = "all"
BUFFER_KEY = "referkit.rollup_buffer"
UPSERT = BulkInsert(
    Rollup.__table__,  # type: ignore[arg-type]
    suffix=f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
    + ", ".join(f"{name} = rollups.{name} + excluded.{name}" for name in COUNTERS),
)
"""The counter upsert as one statement per batch, for the hot-path writers."""


@dataclass
class RollupBuffer:
    rows: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)

    def add(
        self,
        *,
        workspace_id: str,
        livemode: bool,
        at: datetime,
        program_id: str | None = None,
        member_id: str | None = None,
        link_id: str | None = None,
        currency: str = "",
        **counts: int,
    ) -> None:
        """Add ``counts`` to the day of ``at`` for the program, member and link given."""
        self.add_day(
            workspace_id=workspace_id,
            livemode=livemode,
            day=at.date(),
            program_id=program_id,
            member_id=member_id,
            link_id=link_id,
            currency=currency,
            **counts,
        )

    def add_day(
        self,
        *,
        workspace_id: str,
        livemode: bool,
        day: date,
        program_id: str | None = None,
        member_id: str | None = None,
        link_id: str | None = None,
        currency: str = "",
        **counts: int,
    ) -> None:
        day_text = day.isoformat()
        for scope, scope_id, bucket in (
            ("program", program_id, day_text),
            ("member", member_id, day_text),
            ("link", link_id, day_text),
            # The leaderboard's buckets: a member's month and all-time totals.
            (MEMBER_MONTH, member_id, day_text[:7]),
            (MEMBER_ALL, member_id, ALL_TIME),
        ):
            if scope_id is None:
                continue
            key = (scope, scope_id, bucket, currency)
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = {
                    "scope": scope,
                    "scope_id": scope_id,
                    "day": bucket,
                    "currency": currency,
                    "workspace_id": workspace_id,
                    "livemode": livemode,
                    "program_id": program_id,
                    **dict.fromkeys(COUNTERS, 0),
                }
            for name, value in counts.items():
                row[name] += value

    def merge(self, other: RollupBuffer) -> None:
        for key, row in other.rows.items():
            mine = self.rows.get(key)
            if mine is None:
                self.rows[key] = dict(row)
            else:
                for name in COUNTERS:
                    mine[name] += row[name]

    def sorted_rows(self) -> list[dict[str, Any]]:
        """Sorted: concurrent transactions then take row locks in the same order (no deadlock)."""
        return [self.rows[key] for key in sorted(self.rows)]

    def members(self) -> set[str]:
        """The members whose daily counters this buffer changes."""
        return {scope_id for scope, scope_id, _, _ in self.rows if scope == "member"}

    async def write(self, bind: AsyncSession | AsyncConnection) -> None:
        """Upsert the deltas. In a session, the members counted are recorded as changed (their
        embedded dashboards are dropped once it commits); a caller writing on a bare
        connection announces them itself (``link.clicks``)."""
        rows = self.sorted_rows()
        if isinstance(bind, AsyncSession):
            link_changes(bind).dashboards.update(self.members())
        await add_counters(bind, Rollup.__table__, rows, key=KEY, counters=COUNTERS)  # type: ignore[arg-type]
        self.rows.clear()


async def record(session: AsyncSession, buffer: RollupBuffer) -> None:
    """Write ``buffer`` now, or hand it to the batch this session belongs to."""
    batch: RollupBuffer | None = session.info.get(BUFFER_KEY)
    if batch is not None:
        batch.merge(buffer)
        return
    await buffer.write(session)
