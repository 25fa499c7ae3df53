"""Rollup reads. Every query is bounded by (scope, scope_id, day range): O(days), never O(rows
counted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CompoundSelect, bindparam, func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.plain_reads import PlainRead
from referkit.models import DimensionRollup, LedgerEntry, Member, RewardRollup, Rollup
from referkit.stats.dimensions import COUNTERS as DIMENSION_COUNTERS
from referkit.stats.reward_rollups import REWARD_COUNTERS
from referkit.stats.rollups import COUNTERS

Row = dict[str, Any]


def _sums() -> list[Any]:
    return [func.coalesce(func.sum(getattr(Rollup, name)), 0).label(name) for name in COUNTERS]


def _by_day(with_from: bool, with_to: bool) -> Any:
    stmt = (
        select(Rollup.day, Rollup.currency, *_sums())
        .where(
            Rollup.workspace_id == bindparam("workspace_id"),
            Rollup.scope == bindparam("scope"),
            Rollup.scope_id == bindparam("scope_id"),
        )
        .group_by(Rollup.day, Rollup.currency)
        .order_by(Rollup.day)
    )
    if with_from:
        stmt = stmt.where(Rollup.day >= bindparam("day_from"))
    if with_to:
        stmt = stmt.where(Rollup.day <= bindparam("day_to"))
    return stmt


_BY_DAY = {(f, t): _by_day(f, t) for f in (False, True) for t in (False, True)}
"""``by_day``'s statement for each pair of bounds, built once: building it (a sum per counter)
cost more than the database took to answer it."""


MEMBER_PART, ROLLUP_PART, BALANCE_PART = 0, 1, 2
"""The parts of ``member_sums``'s rows, in the order they come."""


_ZERO: Any = literal_column("0")


def _columns(part: int, name: Any, *sums: Any) -> list[Any]:
    """A row of ``member_sums``: each part labels its columns alike, zeros for what it lacks."""
    values = [*sums, *[_ZERO] * (len(COUNTERS) - len(sums))]
    return [
        literal_column(str(part)).label("part"),
        name.label("name"),
        *(value.label(counter) for value, counter in zip(values, COUNTERS, strict=True)),
    ]


def _member_sums(owned: bool, with_from: bool, with_to: bool) -> CompoundSelect[Any]:
    # Core columns (not the mapped classes'): a Core statement skips the ORM's compile step.
    # Constants are written into the SQL: only the five values below are bound per run.
    r, led, m = Rollup.__table__.c, LedgerEntry.__table__.c, Member.__table__.c
    rollups = (
        select(
            *_columns(
                ROLLUP_PART,
                r.currency,
                *(func.coalesce(func.sum(r[name]), _ZERO) for name in COUNTERS),
            )
        )
        .where(
            r.workspace_id == bindparam("workspace_id"),
            r.scope == literal_column("'member'"),
            r.scope_id == bindparam("member_id"),
        )
        .group_by(r.currency)
    )
    if with_from:
        rollups = rollups.where(r.day >= bindparam("day_from"))
    if with_to:
        rollups = rollups.where(r.day <= bindparam("day_to"))
    balances = (
        select(
            *_columns(
                BALANCE_PART,
                led.unit,
                func.coalesce(func.sum(led.pending_delta), _ZERO),
                func.coalesce(func.sum(led.issued_delta), _ZERO),
            )
        )
        .where(
            led.workspace_id == bindparam("workspace_id"),
            led.member_id == bindparam("member_id"),
            led.recipient == literal_column("'referrer'"),
        )
        .group_by(led.unit)
    )
    parts = [rollups, balances]
    if owned:
        member = select(*_columns(MEMBER_PART, m.id)).where(
            m.id == bindparam("member_id"),
            m.workspace_id == bindparam("workspace_id"),
            m.livemode == bindparam("livemode"),
            m.deleted_at.is_(None),
        )
        parts.insert(0, member)
    return union_all(*parts).order_by(literal_column("part"), literal_column("name"))


_MEMBER_SUMS = {
    (o, f, t): PlainRead(_member_sums(o, f, t))
    for o in (False, True)
    for f in (False, True)
    for t in (False, True)
}
"""``member_sums``'s statement for each case, built once."""


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
        stmt = _BY_DAY[day_from is not None, day_to is not None]
        params = {"workspace_id": workspace_id, "scope": scope, "scope_id": scope_id}
        if day_from is not None:
            params["day_from"] = day_from
        if day_to is not None:
            params["day_to"] = day_to
        return [dict(row) for row in (await self.session.execute(stmt, params)).mappings()]

    async def member_sums(
        self,
        workspace_id: str,
        member_id: str,
        day_from: str | None,
        day_to: str | None,
        *,
        livemode: bool | None = None,
    ) -> list[Any]:
        """A member's rollup sums per currency over the days in [day_from, day_to] and their
        referrer balances per unit, in one statement: rows of ``(part, name, *COUNTERS)``,
        ``ROLLUP_PART`` rows named by currency, then ``BALANCE_PART`` rows named by unit (in
        unit order) whose first two counters are the pending and issued sums.

        With ``livemode``, the member's own row comes first (``MEMBER_PART``, named by its id)
        when the member is in the workspace and mode and not deleted, so the caller learns in
        the same round trip whether it may answer at all.
        """
        stmt = _MEMBER_SUMS[livemode is not None, day_from is not None, day_to is not None]
        params: dict[str, Any] = {"workspace_id": workspace_id, "member_id": member_id}
        if livemode is not None:
            params["livemode"] = livemode
        if day_from is not None:
            params["day_from"] = day_from
        if day_to is not None:
            params["day_to"] = day_to
        return await stmt.all(self.session, params)

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

    async def reward_days(
        self, workspace_id: str, program_id: str, day_from: str, day_to: str
    ) -> list[Row]:
        """The program's reward rollup rows of the days in [day_from, day_to], one per day and
        unit: a primary-key range, O(days) whatever the number of rewards."""
        stmt = (
            select(
                RewardRollup.day,
                RewardRollup.unit,
                *(getattr(RewardRollup, name) for name in REWARD_COUNTERS),
            )
            .where(
                RewardRollup.workspace_id == workspace_id,
                RewardRollup.program_id == program_id,
                RewardRollup.day >= day_from,
                RewardRollup.day <= day_to,
            )
            .order_by(RewardRollup.day, RewardRollup.unit)
        )
        return [dict(row) for row in (await self.session.execute(stmt)).mappings()]


class DimensionRepository:
    """Reads of ``dimension_rollups``: one scope, one dimension, a day range (the key's
    prefix), so a read costs days * groups rows."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def groups(
        self,
        workspace_id: str,
        scope: str,
        scope_id: str,
        dimension: str,
        day_from: str,
        day_to: str,
    ) -> list[Row]:
        """Per group value and currency sums over the days."""
        sums = [
            func.coalesce(func.sum(getattr(DimensionRollup, name)), 0).label(name)
            for name in DIMENSION_COUNTERS
        ]
        stmt = (
            select(DimensionRollup.value, DimensionRollup.currency, *sums)
            .where(
                DimensionRollup.workspace_id == workspace_id,
                DimensionRollup.scope == scope,
                DimensionRollup.scope_id == scope_id,
                DimensionRollup.dimension == dimension,
                DimensionRollup.day >= day_from,
                DimensionRollup.day <= day_to,
            )
            .group_by(DimensionRollup.value, DimensionRollup.currency)
        )
        return [dict(row) for row in (await self.session.execute(stmt)).mappings()]
