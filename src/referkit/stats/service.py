"""Stats: sums of rollup rows. Nothing here reads clicks, events or referrals.

Program warnings read the program's held rewards only (an indexed, small set).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import Unprocessable
from referkit.kit.tenancy import owned
from referkit.kit.time import utcnow
from referkit.link.service import LinkService
from referkit.member.service import MemberService
from referkit.models import Member
from referkit.program.service import ProgramService
from referkit.reward.service import PoolCount, RewardService
from referkit.stats.repository import MEMBER_PART, ROLLUP_PART, StatsRepository
from referkit.stats.reward_rollups import REWARD_COUNTERS
from referkit.stats.rollups import ALL_TIME, COUNTERS, MEMBER_ALL, MEMBER_MONTH
from referkit.stats.schemas import (
    Counters,
    Interval,
    Leaderboard,
    LeaderboardEntry,
    MemberStats,
    Money,
    Period,
    ProgramStats,
    StatsPoint,
    StatsWarning,
)

MAX_DAYS = 3660
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class RewardDay:
    """One creation day and unit of a program's rewards, by status (count and amount)."""

    day: date
    unit: str
    pending_count: int
    pending_amount: int
    issued_count: int
    issued_amount: int
    cancelled_count: int
    cancelled_amount: int
    reversed_count: int
    reversed_amount: int

    @property
    def amount(self) -> int:
        """Value created that day and not cancelled (reversed rewards were paid out once)."""
        return self.pending_amount + self.issued_amount + self.reversed_amount


def _range_error(message: str) -> Unprocessable:
    return Unprocessable(
        message,
        errors=[{"field": "from", "in": "query", "message": message, "type": "value_error"}],
    )


def default_range(day_from: date | None, day_to: date | None) -> tuple[date, date]:
    """``[from, to]`` inclusive: ``to`` by default today (UTC), ``from`` by default the
    ``DEFAULT_DAYS`` days up to ``to`` (never before the calendar's first day)."""
    day_to = day_to or utcnow().date()
    if day_from is None:
        day_from = day_to - timedelta(days=min(DEFAULT_DAYS - 1, (day_to - date.min).days))
    return day_from, day_to


def check_range(day_from: date | None, day_to: date | None) -> None:
    if day_from is not None and day_to is not None:
        if day_from > day_to:
            raise _range_error("from must not be after to")
        if (day_to - day_from).days >= MAX_DAYS:
            raise _range_error(f"at most {MAX_DAYS} days at a time")


def _counters(rows: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, int] = defaultdict(int)
    revenue: dict[str, int] = defaultdict(int)
    for row in rows:
        for name in ("clicks", "bot_clicks", "reach", "installs", "signups", "referrals"):
            totals[name] += int(row[name])
        totals["qualified_referrals"] += int(row["qualified"])
        totals["conversions"] += int(row["conversions"])
        if row["currency"]:
            revenue[row["currency"]] += int(row["revenue"])
    return {
        **{name: totals[name] for name in _MEMBER_COUNTERS},
        "revenue": [Money(amount=v, currency=c) for c, v in sorted(revenue.items())],
    }


def _day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _member_stats(
    member_id: str, day_from: date | None, day_to: date | None, rows: Sequence[Any]
) -> MemberStats:
    """``MemberStats`` from ``StatsRepository.member_sums``'s rows (without the member's),
    validated in one call from plain values rather than model by nested model."""
    counts = [0] * (len(COUNTERS) - 1)  # every counter but revenue, in COUNTERS' order
    revenue: dict[str, int] = {}
    rewards: list[dict[str, Any]] = []
    main: dict[str, Any] | None = None  # the money unit earned most (the first of equals)
    for part, name, *sums in rows:
        if part == ROLLUP_PART:
            for i, value in enumerate(sums[:-1]):
                counts[i] += int(value)
            if name:
                revenue[name] = revenue.get(name, 0) + int(sums[-1])
        else:  # BALANCE_PART, in unit order
            pending, issued = int(sums[0]), int(sums[1])
            reward = {
                "unit": name,
                "earned": pending + issued,
                "pending": pending,
                "issued": issued,
            }
            rewards.append(reward)
            if (
                len(name) == 3
                and name.isupper()
                and (main is None or reward["earned"] > main["earned"])
            ):
                main = reward
    return MemberStats.model_validate(
        {
            **dict(zip(_MEMBER_COUNTERS, counts, strict=True)),
            "revenue": [{"amount": v, "currency": c} for c, v in sorted(revenue.items())],
            "member_id": member_id,
            "from": day_from,
            "to": day_to,
            "rewards_earned": {"amount": main["earned"], "currency": main["unit"]}
            if main
            else None,
            "rewards": rewards,
        }
    )


_MEMBER_COUNTERS = (
    "clicks",
    "bot_clicks",
    "reach",
    "installs",
    "signups",
    "referrals",
    "qualified_referrals",
    "conversions",
)
"""``Counters``' fields for ``COUNTERS`` but revenue, in the same order."""


def _pool_warning(pool: PoolCount) -> StatsWarning:
    many = pool.waiting != 1
    waiting = (
        f"{pool.waiting} rewards are waiting for codes"
        if many
        else "1 reward is waiting for a code"
    )
    if pool.available:
        codes = f"{pool.available} code{'s are' if pool.available != 1 else ' is'}"
        action = f"{codes} available now: issue {'them' if many else 'it'}"
    else:
        action = f"upload codes to issue {'them' if many else 'it'}"
    return StatsWarning(
        code="coupon_pool_empty",
        detail=f'{waiting} in pool "{pool.pool}"; {action}.',
        pool=pool.pool,
        waiting=pool.waiting,
        available=pool.available,
    )


def bucket_start(day: date, interval: Interval) -> date:
    if interval is Interval.week:
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if interval is Interval.month:
        return day.replace(day=1)
    return day


def _buckets(day_from: date, day_to: date, interval: Interval) -> list[date]:
    out, current = [], bucket_start(day_from, interval)
    while current <= day_to:
        out.append(current)
        try:
            if interval is Interval.day:
                current += timedelta(days=1)
            elif interval is Interval.week:
                current += timedelta(days=7)
            else:
                current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        except OverflowError:  # the calendar's last bucket
            break
    return out


def month_range(period: Period, today: date) -> tuple[date | None, date | None]:
    if period is Period.all:
        return None, None
    first = today.replace(day=1)
    if period is Period.month:
        return first, today
    last_prev = first - timedelta(days=1)
    return last_prev.replace(day=1), last_prev


class StatsService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.stats = StatsRepository(session)

    async def link_totals(
        self, workspace_id: str, link_ids: list[str]
    ) -> dict[str, tuple[int, int]]:
        """(clicks, reach) per link of the workspace, summed over its rollup days."""
        return await self.stats.link_totals(workspace_id, link_ids)

    async def member(
        self, principal: Principal, member_id: str, day_from: date | None, day_to: date | None
    ) -> MemberStats:
        """One of the caller's members' stats: the tenancy check, the rollup sums and the
        reward balances in one statement (a 404 as ``MemberService.get`` answers it)."""

        async def load(workspace_id: str, livemode: bool, row_id: str) -> Sequence[Any] | None:
            rows = await self.stats.member_sums(
                workspace_id, row_id, _day(day_from), _day(day_to), livemode=livemode
            )
            return rows if rows and rows[0][0] == MEMBER_PART else None

        rows = await owned(principal, member_id, prefix="mem", noun="member", load=load)
        check_range(day_from, day_to)
        return _member_stats(rows[0][1], day_from, day_to, rows[1:])

    async def member_totals(
        self, member: Member, day_from: date | None, day_to: date | None
    ) -> MemberStats:
        """``member``'s stats, for a member row the caller already checked is theirs."""
        check_range(day_from, day_to)
        rows = await self.stats.member_sums(
            member.workspace_id, member.id, _day(day_from), _day(day_to)
        )
        return _member_stats(member.id, day_from, day_to, rows)

    async def program(
        self,
        principal: Principal,
        program_id: str,
        day_from: date | None,
        day_to: date | None,
        interval: Interval,
    ) -> ProgramStats:
        program = await ProgramService(self.session).get(principal, program_id)
        day_from, day_to = default_range(day_from, day_to)
        check_range(day_from, day_to)
        rows = await self.stats.by_day(
            program.workspace_id, "program", program.id, day_from.isoformat(), day_to.isoformat()
        )
        grouped: dict[date, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            grouped[bucket_start(date.fromisoformat(row["day"]), interval)].append(row)
        series = [
            StatsPoint(start=start, **_counters(grouped.get(start, [])))
            for start in _buckets(day_from, day_to, interval)
        ]
        return ProgramStats(
            program_id=program.id,
            from_=day_from,
            to=day_to,
            interval=interval,
            totals=Counters(**_counters(rows)),
            series=series,
            warnings=[
                _pool_warning(pool)
                for pool in await RewardService(self.session).waiting_for_codes(
                    program.workspace_id, program.id
                )
            ],
        )

    async def program_days(
        self, principal: Principal, program_id: str, day_from: date, day_to: date
    ) -> list[dict[str, Any]]:
        """The program's rollup rows per day and currency in [day_from, day_to], as stored
        (``day`` a date; counts in the ``currency == ""`` row, revenue in one row per
        currency): what ``program`` sums into buckets, for readers that chart a long range
        and need no response models."""
        program = await ProgramService(self.session).get(principal, program_id)
        check_range(day_from, day_to)
        rows = await self.stats.by_day(
            program.workspace_id, "program", program.id, day_from.isoformat(), day_to.isoformat()
        )
        for row in rows:
            row["day"] = date.fromisoformat(row["day"])
        return rows

    async def leaderboard(
        self, principal: Principal, program_id: str, period: Period, limit: int
    ) -> Leaderboard:
        program = await ProgramService(self.session).get(principal, program_id)
        day_from, day_to = month_range(period, utcnow().date())
        if day_from is None:
            rows = await self.stats.leaderboard(
                program.workspace_id, program.id, MEMBER_ALL, ALL_TIME, limit
            )
        else:  # a calendar month: its bucket is "YYYY-MM"
            rows = await self.stats.leaderboard(
                program.workspace_id, program.id, MEMBER_MONTH, day_from.isoformat()[:7], limit
            )
        members = await MemberService(self.session).many(principal, [r["member_id"] for r in rows])
        entries: list[LeaderboardEntry] = []
        for row in rows:
            member = members.get(row["member_id"])
            if member is None:
                continue  # deleted: erased members leave the leaderboard
            entries.append(
                LeaderboardEntry(
                    rank=len(entries) + 1,
                    member_id=member.id,
                    referral_code=member.referral_code,
                    name=member.name,
                    referrals=int(row["referrals"] or 0),
                    qualified_referrals=int(row["qualified"] or 0),
                    reach=int(row["reach"] or 0),
                    clicks=int(row["clicks"] or 0),
                )
            )
        return Leaderboard(
            program_id=program.id, period=period, from_=day_from, to=day_to, data=entries
        )

    async def rewards_by_day(
        self, principal: Principal, program_id: str, day_from: date, day_to: date
    ) -> list[RewardDay]:
        """Per creation day and unit (a currency or ``points``), the program's rewards by what
        became of them: the dashboard's rewards chart and counters. Read from the reward
        rollups, so the cost follows the days asked for, not the rewards stored."""
        program = await ProgramService(self.session).get(principal, program_id)
        check_range(day_from, day_to)
        rows = await self.stats.reward_days(
            program.workspace_id, program.id, day_from.isoformat(), day_to.isoformat()
        )
        return [
            RewardDay(
                day=date.fromisoformat(row["day"]),
                unit=row["unit"],
                **{name: int(row[name]) for name in REWARD_COUNTERS},
            )
            for row in rows
            if row["unit"] == "points" or (len(row["unit"]) == 3 and row["unit"].isupper())
        ]

    async def link_clicks_by_day(
        self, principal: Principal, link_id: str, day_from: date, day_to: date
    ) -> dict[date, int]:
        """Human clicks per day on one of the caller's links."""
        link = await LinkService(self.session).get(principal, link_id)
        check_range(day_from, day_to)
        rows = await self.stats.by_day(
            link.workspace_id, "link", link.id, day_from.isoformat(), day_to.isoformat()
        )
        out: dict[date, int] = defaultdict(int)
        for row in rows:
            out[date.fromisoformat(row["day"])] += int(row["clicks"])
        return out
