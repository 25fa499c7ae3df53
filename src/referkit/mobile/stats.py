"""App analytics: stats by link, network, campaign or day; the overview against the previous
period; the portfolio of every app. All read ``app_rollups`` only (days * groups rows)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import Unprocessable
from referkit.mobile.repository import AppRollupRepository
from referkit.mobile.schemas import (
    AppCounters,
    AppStats,
    AppStatsRow,
    GroupBy,
    Kpi,
    Overview,
    Period,
    Portfolio,
    PortfolioApp,
    TopLink,
)
from referkit.mobile.service import AppService
from referkit.stats.app_rollups import APP_COUNTERS
from referkit.stats.schemas import Money
from referkit.stats.service import default_range

MAX_DAYS = 3660
TOP_LINKS = 5
_COUNTS = [name for name in APP_COUNTERS if name != "revenue"]


def _range(day_from: date | None, day_to: date | None) -> tuple[date, date]:
    """``[from, to]`` inclusive; by default the last 30 days up to today (UTC)."""
    day_from, day_to = default_range(day_from, day_to)
    problem = None
    if day_from > day_to:
        problem = "from must not be after to"
    elif (day_to - day_from).days >= MAX_DAYS:
        problem = f"at most {MAX_DAYS} days at a time"
    if problem:
        raise Unprocessable(
            problem,
            errors=[{"field": "from", "in": "query", "message": problem, "type": "value_error"}],
        )
    return day_from, day_to


def previous(day_from: date, day_to: date) -> tuple[date, date]:
    """The period of the same length just before ``[from, to]``."""
    length = day_to - day_from
    prev_to = day_from - timedelta(days=1)
    return prev_to - length, prev_to


def _counters(rows: list[Row[Any]]) -> AppCounters:
    counts: dict[str, int] = dict.fromkeys(_COUNTS, 0)
    revenue: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.currency:
            revenue[row.currency] += int(row.revenue or 0)
            continue
        for name in _COUNTS:
            counts[name] += int(getattr(row, name) or 0)
    clicks = counts["clicks"]
    return AppCounters(
        **counts,
        revenue=[Money(amount=v, currency=c) for c, v in sorted(revenue.items())],
        conversion_rate=round(counts["installs"] / clicks, 4) if clicks else 0.0,
    )


def _grouped(rows: list[Row[Any]]) -> dict[str, list[Row[Any]]]:
    groups: dict[str, list[Row[Any]]] = defaultdict(list)
    for row in rows:
        groups[str(row.key)].append(row)
    return groups


def _kpi(current: float, previous: float) -> Kpi:
    change = round((current - previous) / previous, 4) if previous else None
    return Kpi(current=current, previous=previous, change=change)


def _kpis(current: AppCounters, before: AppCounters) -> dict[str, Kpi]:
    kpis = {
        name: _kpi(getattr(current, name), getattr(before, name))
        for name in ("clicks", "installs", "reinstalls", "opens", "events", "conversions")
    }
    kpis["conversion_rate"] = _kpi(current.conversion_rate, before.conversion_rate)
    now = {m.currency: m.amount for m in current.revenue}
    then = {m.currency: m.amount for m in before.revenue}
    for currency in sorted(now.keys() | then.keys()):
        kpis[f"revenue_{currency}"] = _kpi(now.get(currency, 0), then.get(currency, 0))
    return kpis


class AppStatsService:
    def __init__(self, session: AsyncSession) -> None:
        self.apps = AppService(session)
        self.rollups = AppRollupRepository(session)

    async def _sums(
        self, principal: Principal, dimension: str, span: tuple[date, date], **kw: Any
    ) -> list[Row[Any]]:
        return await self.rollups.sums(
            principal.workspace_id,
            principal.livemode,
            dimension=dimension,
            day_from=span[0].isoformat(),
            day_to=span[1].isoformat(),
            **kw,
        )

    async def stats(
        self,
        principal: Principal,
        app_id: str,
        day_from: date | None,
        day_to: date | None,
        group_by: GroupBy,
    ) -> AppStats:
        app = await self.apps.get(principal, app_id)
        span = _range(day_from, day_to)
        totals = _counters(await self._sums(principal, "app", span, app_id=app.id))
        if group_by is GroupBy.day:
            rows = await self._sums(principal, "app", span, app_id=app.id, by="day")
        else:
            rows = await self._sums(principal, group_by.value, span, app_id=app.id)
        data = [
            AppStatsRow(key=key or None, **_counters(group).model_dump())
            for key, group in sorted(_grouped(rows).items())
        ]
        if group_by is not GroupBy.day:
            data.sort(key=lambda row: (-row.installs, -row.clicks, row.key or ""))
        return AppStats(
            app_id=app.id, from_=span[0], to=span[1], group_by=group_by, totals=totals, data=data
        )

    async def overview(
        self, principal: Principal, app_id: str, day_from: date | None, day_to: date | None
    ) -> Overview:
        app = await self.apps.get(principal, app_id)
        span = _range(day_from, day_to)
        before = previous(*span)
        current = _counters(await self._sums(principal, "app", span, app_id=app.id))
        earlier = _counters(await self._sums(principal, "app", before, app_id=app.id))
        links = _grouped(await self._sums(principal, "link", span, app_id=app.id))
        top = [TopLink(link_id=key, **_counters(rows).model_dump()) for key, rows in links.items()]
        top.sort(key=lambda link: (-link.installs, -link.clicks, link.link_id))
        return Overview(
            app_id=app.id,
            name=app.name,
            period=Period(from_=span[0], to=span[1]),
            previous_period=Period(from_=before[0], to=before[1]),
            kpis=_kpis(current, earlier),
            current=current,
            previous=earlier,
            top_links=top[:TOP_LINKS],
        )

    async def portfolio(
        self, principal: Principal, day_from: date | None, day_to: date | None
    ) -> Portfolio:
        span = _range(day_from, day_to)
        before = previous(*span)
        apps = await self.apps.all(principal)
        now = _grouped(await self._sums(principal, "app", span, by="app_id"))
        then = _grouped(await self._sums(principal, "app", before, by="app_id"))
        data = [
            PortfolioApp(
                app_id=app.id,
                name=app.name,
                current=_counters(now.get(app.id, [])),
                previous=_counters(then.get(app.id, [])),
            )
            for app in apps
        ]
        known = {app.id for app in apps}  # a deleted app's rollups stay out of the totals
        return Portfolio(
            period=Period(from_=span[0], to=span[1]),
            previous_period=Period(from_=before[0], to=before[1]),
            data=data,
            totals=_counters([r for key, rows in now.items() if key in known for r in rows]),
            previous_totals=_counters(
                [r for key, rows in then.items() if key in known for r in rows]
            ),
        )
