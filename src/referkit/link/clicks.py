"""The click batch writer: one transaction, one reach-mark insert, one multi-row click insert
and one rollup upsert for every click of a batch (see ``referkit.db.batcher``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from referkit.db.engine import write_engine
from referkit.link.repository import insert_clicks, new_reach_marks
from referkit.stats.rollups import RollupBuffer


@dataclass(frozen=True)
class ClickJob:
    row: dict[str, Any]
    """A ``clicks`` row, ``is_unique`` left for the writer to decide."""
    reach_key: str | None
    """Hash of (visitor, link, hour) for countable clicks; None for bots and orphans."""


class ClickWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = write_engine(engine)

    async def __call__(self, jobs: Sequence[ClickJob]) -> Sequence[str | BaseException]:
        marks: dict[str, dict[str, Any]] = {}
        for job in jobs:
            if job.reach_key is not None and job.reach_key not in marks:
                marks[job.reach_key] = {"key": job.reach_key, "created_at": job.row["created_at"]}
        # This transaction is the batch's own (the batcher is the hot-path commit boundary).
        async with self.engine.begin() as conn:
            fresh = await new_reach_marks(conn, list(marks.values()))
            rows, rollups = [], RollupBuffer()
            for job in jobs:
                unique = job.reach_key is not None and job.reach_key in fresh
                if unique:
                    fresh.discard(job.reach_key)  # the first click of the batch takes it
                row = {**job.row, "is_unique": unique}
                rows.append(row)
                if row["is_orphan"] or row["workspace_id"] is None:
                    continue
                rollups.add(
                    workspace_id=row["workspace_id"],
                    livemode=row["livemode"],
                    at=row["created_at"],
                    program_id=row["program_id"],
                    member_id=row["member_id"],
                    link_id=row["link_id"],
                    clicks=0 if row["is_bot"] else 1,
                    bot_clicks=1 if row["is_bot"] else 0,
                    reach=1 if unique else 0,
                )
            await insert_clicks(conn, rows)
            await rollups.write(conn)
        return [job.row["id"] for job in jobs]
