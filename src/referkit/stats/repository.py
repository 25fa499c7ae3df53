"""Rollup reads. Every query is bounded by (scope, scope_id, day range): O(days), never O(rows
counted)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.models import Reward, Rollup
from referkit.stats.rollups import COUNTERS

Row = dict[str, Any]


def _sums() -> list[Any]:
    return [func.coalesce(func.sum(getattr(Rollup, name)), 0).label(name) for name in COUNTERS]


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_day(
        self,
        workspace_id: str,
        scope: str,
        scope_id: str,
        day_from: str | None,
        day_to: str | None,
    ) -> list[dict[str, Any]]:
        """Per day and currency sums for one scope (days without activity are absent)."""
        stmt = (
            select(Rollup.day, Rollup.currency, *_sums())
            .where(
                Rollup.workspace_id == workspace_id,
                Rollup.scope == scope,
                Rollup.scope_id == scope_id,
            )
            .group_by(Rollup.day, Rollup.currency)
            .order_by(Rollup.day)
        )
        if day_from is not None:
            stmt = stmt.where(Rollup.day >= day_from)
        if day_to is not None:
            stmt = stmt.where(Rollup.day <= day_to)
        return [dict(row) for row in (await self.session.execute(stmt)).mappings()]

    async def link_totals(
        self, workspace_id: str, link_ids: list[str]
    ) -> dict[str, tuple[int, int]]:
        if not link_ids:
            return {}
        stmt = (
            select(Rollup.scope_id, func.sum(Rollup.clicks), func.sum(Rollup.reach))
            .where(
                Rollup.workspace_id == workspace_id,
                Rollup.scope == "link",
                Rollup.scope_id.in_(link_ids),
            )
            .group_by(Rollup.scope_id)
        )
        rows = await self.session.execute(stmt)
        return {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in rows}

    async def leaderboard(
        self, workspace_id: str, program_id: str, scope: str, bucket: str, limit: int
    ) -> list[Row]:
        """The best members of one period bucket: one pre-summed row per member, read in index
        order, so the cost is ``limit`` rows however many members and days there are."""
        stmt = (
            select(
                Rollup.scope_id.label("member_id"),
                Rollup.referrals,
                Rollup.qualified,
                Rollup.reach,
                Rollup.clicks,
            )
            .where(
                Rollup.workspace_id == workspace_id,
                Rollup.program_id == program_id,
                Rollup.scope == scope,
                Rollup.day == bucket,
                Rollup.currency == "",
                (Rollup.referrals > 0) | (Rollup.qualified > 0) | (Rollup.clicks > 0),
            )
            .order_by(Rollup.qualified.desc(), Rollup.referrals.desc(), Rollup.reach.desc())
            .limit(limit)
        )
        return [dict(row) for row in (await self.session.execute(stmt)).mappings()]

    async def reward_amounts(
        self, workspace_id: str, program_id: str, start: datetime, end: datetime
    ) -> list[tuple[date, str, int]]:
        """(UTC day, unit, amount) sums of the program's rewards created in [start, end), less
        the cancelled ones. Summed by the database per day: rollups count no rewards yet, and
        a year of a busy program is too many rows to read one by one."""
        day = self._utc_day(Reward.created_at)
        stmt = (
            select(day, Reward.currency, Reward.kind, func.sum(Reward.amount))
            .where(
                Reward.workspace_id == workspace_id,
                Reward.program_id == program_id,
                Reward.created_at >= start,
                Reward.created_at < end,
                Reward.status != "cancelled",
                Reward.amount.is_not(None),
            )
            .group_by(day, Reward.currency, Reward.kind)
        )
        return [
            (
                date.fromisoformat(str(row[0])),
                row[1] or ("points" if row[2] == "points" else ""),
                int(row[3] or 0),
            )
            for row in await self.session.execute(stmt)
        ]

    def _utc_day(self, column: Any) -> Any:
        """``YYYY-MM-DD`` of a UTC timestamp column (SQLite stores UTC text)."""
        if self.session.get_bind().dialect.name == "sqlite":
            return func.substr(column, 1, 10)
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
