"""The retention purge: raw click and event detail older than a workspace's
``raw_detail_days`` loses its IP, user agent, referer and properties; the rows, their links and
the rollups stay, so every count is unchanged.

Work is done in batches of ``batch_size`` rows, each in a short transaction of its own (on
SQLite a write transaction locks the database; ingestion must not wait behind a purge). Ids sort
by creation time, so each batch is a primary-key range: ``[from, below)``. A workspace's
``detail_purged_before`` remembers how far the last run got, so a run reads only the rows that
aged out since (less a day of margin for rows committed a little after their id was drawn).

Where PostgreSQL partitions clicks, events and app clicks by month (``referkit.db.partitions``),
a month whose rows all belong to workspaces whose cutoff has passed its end is detached and
dropped first (``drop_aged_partitions``): the rows go as a whole instead of being updated one
by one, and the rollups keep every count. A month that holds a row of a workspace keeping its
detail longer (or for ever) stays, and the per-workspace loop below purges it row by row, as
it does the partial month at the edge and everything on SQLite. Dropping takes the rows with
it, not only their detail: an event of a dropped month no longer shows in the customer's
export, and its event id can be sent again as a new event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from referkit.db import partitions
from referkit.db.session import SessionFactory
from referkit.kit.ids import id_floor
from referkit.models import Click, Event
from referkit.privacy.repository import PrivacyRepository

logger = logging.getLogger("referkit.privacy")
MARGIN = timedelta(days=1)
PURGED: tuple[tuple[Any, str], ...] = ((Click, "clk"), (Event, "evt"))


@dataclass
class PurgeResult:
    workspaces: int = 0
    rows: dict[str, int] = field(default_factory=lambda: {"clicks": 0, "events": 0})
    dropped: list[str] = field(default_factory=list)


async def drop_aged_partitions(sessions: SessionFactory, now: datetime) -> list[str]:
    """Drop every monthly partition all of whose rows are past their workspace's retention;
    the partitions dropped (none on SQLite or without a retention setting anywhere)."""
    dropped: list[str] = []
    for table in partitions.PARTITIONED:
        # One transaction per table: the settings read and the drops see the same workspaces.
        async with sessions.transaction() as session:
            conn = await session.connection()
            if not await partitions.is_partitioned(conn, table):
                return dropped
            days = await PrivacyRepository(session).retention_days()
            set_days = [d for d in days.values() if d is not None]
            if not set_days:
                return dropped
            oldest_cutoff = now - timedelta(days=max(set_days))
            newest_cutoff = now - timedelta(days=min(set_days))
            for month in await partitions.months(conn, table):
                end = partitions.add_months(month, 1)
                if end > newest_cutoff:
                    break  # no workspace's cutoff has passed this month's end
                keeping = (
                    []
                    if end <= oldest_cutoff and len(set_days) == len(days)
                    else [
                        ws for ws, d in days.items() if d is None or now - timedelta(days=d) < end
                    ]
                )
                if await partitions.holds_any(conn, table, month, keeping):
                    continue
                await partitions.drop_month(conn, table, month)
                dropped.append(partitions.partition_name(table, month))
    if dropped:
        logger.info("retention purge: dropped %s", ", ".join(dropped))
    return dropped


async def purge_raw_detail(
    sessions: SessionFactory, now: datetime, *, batch_size: int = 1000
) -> PurgeResult:
    """Purge every workspace that has a retention setting, as of ``now``: whole monthly
    partitions where PostgreSQL has them, then row by row."""
    result = PurgeResult()
    result.dropped = await drop_aged_partitions(sessions, now)
    async with sessions.transaction(write=False) as session:
        workspaces = await PrivacyRepository(session).retaining_workspaces()
    for workspace_id, days, purged_before in workspaces:
        cutoff = now - timedelta(days=days)
        start = purged_before - MARGIN if purged_before is not None else None
        for model, prefix in PURGED:
            result.rows[model.__tablename__] += await _purge_table(
                sessions,
                model,
                workspace_id,
                low=id_floor(prefix, start) if start is not None else None,
                below=id_floor(prefix, cutoff),
                cutoff=cutoff,
                batch_size=batch_size,
            )
        async with sessions.transaction() as session:
            await PrivacyRepository(session).mark_purged(workspace_id, cutoff)
        result.workspaces += 1
    if any(result.rows.values()):
        logger.info("retention purge: %s", result.rows)
    return result


async def _purge_table(
    sessions: SessionFactory,
    model: Any,
    workspace_id: str,
    *,
    low: str | None,
    below: str,
    cutoff: datetime,
    batch_size: int,
) -> int:
    purged, after = 0, low
    while True:
        async with sessions.transaction() as session:
            repo = PrivacyRepository(session)
            ids = await repo.next_ids(
                model, workspace_id, after=after, below=below, cutoff=cutoff, limit=batch_size
            )
            if ids:
                purged += await repo.clear_detail(model, ids)
        if len(ids) < batch_size:
            return purged
        after = ids[-1]
