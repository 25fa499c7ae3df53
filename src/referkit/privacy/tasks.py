"""The retention purge: raw click and event detail older than a workspace's
``raw_detail_days`` loses its IP, user agent, referer and properties; the rows, their links and
the rollups stay, so every count is unchanged.

Work is done in batches of ``batch_size`` rows, each in a short transaction of its own (on
SQLite a write transaction locks the database; ingestion must not wait behind a purge). Ids sort
by creation time, so each batch is a primary-key range: ``[from, below)``. A workspace's
``detail_purged_before`` remembers how far the last run got, so a run reads only the rows that
aged out since (less a day of margin for rows committed a little after their id was drawn).

Where PostgreSQL partitions clicks and events by month, a month wholly older than every
workspace's cutoff can be detached and dropped instead of updated: that belongs in
``purge_raw_detail`` before the per-workspace loop (``drop_aged_partitions(cutoff)``), with the
loop left for the partial month at the edge and for SQLite.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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


async def purge_raw_detail(
    sessions: SessionFactory, now: datetime, *, batch_size: int = 1000
) -> PurgeResult:
    """Purge every workspace that has a retention setting, as of ``now``."""
    async with sessions.transaction(write=False) as session:
        workspaces = await PrivacyRepository(session).retaining_workspaces()
    result = PurgeResult()
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
