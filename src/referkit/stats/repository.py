"""Rollup reads. Every query is bounded by (scope, scope_id, day range): O(days), never O(rows
counted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.models import Rollup
from referkit.stats.rollups import COUNTERS


def _sums() -> list[Any]:
    return [func.coalesce(func.sum(getattr(Rollup, name)), 0).label(name) for name in COUNTERS]


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_day(
        self, scope: str, scope_id: str, day_from: str | None, day_to: str | None
    ) -> list[dict[str, Any]]:
        """Per day and currency sums for one scope (days without activity are absent)."""
        stmt = (
            select(Rollup.day, Rollup.currency, *_sums())
            .where(Rollup.scope == scope, Rollup.scope_id == scope_id)
            .group_by(Rollup.day, Rollup.currency)
            .order_by(Rollup.day)
        )
        if day_from is not None:
            stmt = stmt.where(Rollup.day >= day_from)
        if day_to is not None:
            stmt = stmt.where(Rollup.day <= day_to)
        return [dict(row) for row in (await self.session.execute(stmt)).mappings()]

    async def link_totals(self, link_ids: list[str]) -> dict[str, tuple[int, int]]:
        if not link_ids:
            return {}
        stmt = (
            select(Rollup.scope_id, func.sum(Rollup.clicks), func.sum(Rollup.reach))
            .where(Rollup.scope == "link", Rollup.scope_id.in_(link_ids))
            .group_by(Rollup.scope_id)
        )
        rows = await self.session.execute(stmt)
        return {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in rows}

    async def leaderboard(
        self, program_id: str, day_from: str | None, day_to: str | None, limit: int
    ) -> list[dict[str, Any]]:
        referrals = func.sum(Rollup.referrals)
        qualified = func.sum(Rollup.qualified)
        stmt = (
            select(
                Rollup.scope_id.label("member_id"),
                referrals.label("referrals"),
                qualified.label("qualified"),
                func.sum(Rollup.reach).label("reach"),
                func.sum(Rollup.clicks).label("clicks"),
            )
            .where(Rollup.program_id == program_id, Rollup.scope == "member")
            .group_by(Rollup.scope_id)
            .having((referrals > 0) | (qualified > 0) | (func.sum(Rollup.clicks) > 0))
            .order_by(qualified.desc(), referrals.desc(), func.sum(Rollup.reach).desc())
            .limit(limit)
        )
        if day_from is not None:
            stmt = stmt.where(Rollup.day >= day_from)
        if day_to is not None:
            stmt = stmt.where(Rollup.day <= day_to)
        return [dict(row) for row in (await self.session.execute(stmt)).mappings()]
