"""Breakdowns: a link's or program's clicks, reach, signups, conversions and revenue per
country, device, OS, browser, referrer, campaign (and ad network for apps) over a day range.

Read from ``dimension_rollups`` only: one indexed range of days * groups rows, whatever the
number of clicks and events behind them. Totals are the sum of one dimension's groups (every
click, signup and purchase is counted once in each dimension).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import Unprocessable
from referkit.link.service import LinkService
from referkit.program.service import ProgramService
from referkit.stats.repository import DimensionRepository
from referkit.stats.schemas import (
    APP_GROUPS,
    Breakdown,
    BreakdownGroup,
    GroupBy,
    GroupCounters,
    Money,
)
from referkit.stats.service import check_range, default_range

_TOTALS_DIMENSION = GroupBy.country
"""Summed for totals when no grouping is asked for (any one dimension would do)."""


def _not_an_app(kind: str, group_by: GroupBy) -> Unprocessable:
    message = f"group_by={group_by.value} is only for {kind}s of an app"
    return Unprocessable(
        message,
        errors=[{"field": "group_by", "in": "query", "message": message, "type": "value_error"}],
    )


def _fold(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows per (value, currency) into counters per value."""
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"clicks": 0, "reach": 0, "signups": 0, "conversions": 0, "revenue": {}}
    )
    for row in rows:
        group = groups[row["value"]]
        for name in ("clicks", "reach", "signups", "conversions"):
            group[name] += int(row[name])
        if row["currency"]:
            revenue = group["revenue"]
            revenue[row["currency"]] = revenue.get(row["currency"], 0) + int(row["revenue"])
    return groups


def _money(revenue: dict[str, int]) -> list[Money]:
    return [Money(amount=amount, currency=c) for c, amount in sorted(revenue.items())]


class BreakdownService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.rollups = DimensionRepository(session)

    async def link(
        self,
        principal: Principal,
        link_id: str,
        group_by: GroupBy | None,
        day_from: date | None,
        day_to: date | None,
        limit: int,
    ) -> Breakdown:
        link = await LinkService(self.session).get(principal, link_id)
        if group_by in APP_GROUPS and link.app_id is None:
            raise _not_an_app("link", group_by)
        return await self._read(
            principal, "link", link.id, group_by, day_from, day_to, limit, link_id=link.id
        )

    async def program(
        self,
        principal: Principal,
        program_id: str,
        group_by: GroupBy,
        day_from: date | None,
        day_to: date | None,
        limit: int,
    ) -> Breakdown:
        program = await ProgramService(self.session).get(principal, program_id)
        if group_by in APP_GROUPS and program.app_id is None:
            raise _not_an_app("program", group_by)
        return await self._read(
            principal,
            "program",
            program.id,
            group_by,
            day_from,
            day_to,
            limit,
            program_id=program.id,
        )

    async def _read(
        self,
        principal: Principal,
        scope: str,
        scope_id: str,
        group_by: GroupBy | None,
        day_from: date | None,
        day_to: date | None,
        limit: int,
        **owner: str,
    ) -> Breakdown:
        day_from, day_to = default_range(day_from, day_to)
        check_range(day_from, day_to)
        rows = await self.rollups.groups(
            principal.workspace_id,
            scope,
            scope_id,
            (group_by or _TOTALS_DIMENSION).value,
            day_from.isoformat(),
            day_to.isoformat(),
        )
        groups = _fold(rows)
        totals: dict[str, Any] = {"clicks": 0, "reach": 0, "signups": 0, "conversions": 0}
        revenue: dict[str, int] = defaultdict(int)
        for group in groups.values():
            for name in totals:
                totals[name] += group[name]
            for currency, amount in group["revenue"].items():
                revenue[currency] += amount
        ranked = sorted(
            groups.items(),
            key=lambda item: (
                -item[1]["clicks"],
                -item[1]["conversions"],
                -item[1]["signups"],
                item[0],
            ),
        )
        shown = ranked[:limit] if group_by is not None else []
        return Breakdown(
            **owner,
            from_=day_from,
            to=day_to,
            group_by=group_by,
            totals=GroupCounters(**totals, revenue=_money(revenue)),
            groups=[
                BreakdownGroup(
                    value=value or None,
                    **{**counters, "revenue": _money(counters["revenue"])},
                )
                for value, counters in shown
            ],
            more=group_by is not None and len(ranked) > limit,
        )
