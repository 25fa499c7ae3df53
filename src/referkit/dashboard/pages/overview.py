"""The overview: KPI cards and charts of the chosen range against the period before it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from markupsafe import Markup
from starlette.responses import Response

from referkit.dashboard.charts import line_chart, money, short_amount
from referkit.dashboard.pages.common import programs_of
from referkit.dashboard.web import PREFIX, CurrentViewer, DashboardRoute, Session, render
from referkit.kit.schemas import WholeNumber
from referkit.kit.time import utcnow
from referkit.stats.service import StatsService

router = APIRouter(prefix=PREFIX, route_class=DashboardRoute, include_in_schema=False)
RANGES = (7, 30, 90, 365)
WEEKLY_FROM = 120
"""Ranges of this many days or more are charted per week (the KPI totals stay exact)."""


def _weekly(values: list[int]) -> list[int]:
    return [sum(values[i : i + 7]) for i in range(0, len(values), 7)]


@dataclass
class Metric:
    name: str
    current: list[int]
    previous: list[int]
    unit: str = ""
    note: str = ""

    def fmt(self, value: int) -> str:
        return money(value, self.unit) if self.unit else f"{value:,}"

    @property
    def total(self) -> str:
        return self.fmt(sum(self.current))

    @property
    def before(self) -> str:
        return self.fmt(sum(self.previous))

    @property
    def change(self) -> str:
        now, then = sum(self.current), sum(self.previous)
        if then == 0:
            return "new" if now else "no change"
        percent = round((now - then) * 100 / then)
        return f"{percent:+d}%"

    def chart(self, days: list[date]) -> Markup:
        title, current, previous = self.name, self.current, self.previous
        if len(days) >= WEEKLY_FROM:  # a long range reads better (and draws faster) by week
            title = f"{self.name} per week"
            current, previous = _weekly(current), _weekly(previous)
            # Points are evenly spaced; only the first and last day label the axis.
            days = [*days[::7][: len(current) - 1], days[-1]]
        return line_chart(
            title,
            days,
            current,
            previous,
            self.fmt,
            lambda value: short_amount(value, self.unit) if self.unit else str(value),
        )


def _main_unit(per_day: dict[date, dict[str, int]]) -> str:
    totals: dict[str, int] = defaultdict(int)
    for units in per_day.values():
        for unit, amount in units.items():
            totals[unit] += amount
    return max(totals, key=lambda unit: totals[unit], default="")


async def _collect(
    session: Session,
    viewer: CurrentViewer,
    program_ids: list[str],
    start: date,
    current_from: date,
    today: date,
) -> dict[str, Any]:
    """Per-day counters, revenue and rewards of the programs, summed, and the number of
    rewards of the current period pending and issued per unit. All from rollups."""
    stats = StatsService(session)
    counts: dict[str, dict[date, Any]] = {
        key: defaultdict(int) for key in ("clicks", "referrals", "qualified")
    }
    revenue: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rewards: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    statuses: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for program_id in program_ids:
        for day_row in await stats.program_days(viewer.principal, program_id, start, today):
            day = day_row["day"]
            counts["clicks"][day] += int(day_row["clicks"])
            counts["referrals"][day] += int(day_row["referrals"])
            counts["qualified"][day] += int(day_row["qualified"])
            if day_row["currency"]:
                revenue[day][day_row["currency"]] += int(day_row["revenue"])
        for row in await stats.rewards_by_day(viewer.principal, program_id, start, today):
            rewards[row.day][row.unit] += row.amount
            if row.day >= current_from:
                statuses[row.unit]["pending"] += row.pending_count
                statuses[row.unit]["issued"] += row.issued_count
    return {**counts, "revenue": revenue, "rewards": rewards, "statuses": statuses}


def _split(
    values: dict[date, int], prev_days: list[date], days: list[date]
) -> tuple[list[int], list[int]]:
    return [values.get(d, 0) for d in days], [values.get(d, 0) for d in prev_days]


@router.get("")
async def overview(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    days: Annotated[int, WholeNumber, Query()] = 30,
    program: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    days = days if days in RANGES else 30
    programs = await programs_of(session, viewer.principal)
    chosen = [p for p in programs if program in (None, "", p.id)]
    today = utcnow().date()
    current_days = [today - timedelta(days=days - 1 - i) for i in range(days)]
    previous_days = [d - timedelta(days=days) for d in current_days]
    data = await _collect(
        session, viewer, [p.id for p in chosen], previous_days[0], current_days[0], today
    )
    metrics = []
    for key, name in (
        ("clicks", "Clicks"),
        ("referrals", "Referrals"),
        ("qualified", "Qualified referrals"),
    ):
        metrics.append(Metric(name, *_split(data[key], previous_days, current_days)))
    for key, name in (("revenue", "Revenue"), ("rewards", "Rewards")):
        unit = _main_unit(data[key])
        per_day = {d: units.get(unit, 0) for d, units in data[key].items()}
        metrics.append(
            Metric(name, *_split(per_day, previous_days, current_days), unit=unit or "-")
        )
        if key == "rewards" and unit:
            counts = data["statuses"].get(unit, {})
            metrics[
                -1
            ].note = f"{counts.get('pending', 0):,} pending · {counts.get('issued', 0):,} issued"
    for metric in metrics:
        if metric.unit == "-":
            metric.unit = ""
    return render(
        request,
        "overview.html",
        {
            "title": "Overview",
            "programs": programs,
            "program": program or "",
            "days": days,
            "ranges": RANGES,
            "metrics": metrics,
            "chart_days": current_days,
        },
    )
