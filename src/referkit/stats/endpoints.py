from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from referkit.auth.dependencies import AnalyticsPrincipal, Session
from referkit.db.session import replica_reads
from referkit.openapi import problems
from referkit.stats.schemas import Interval, Leaderboard, MemberStats, Period, ProgramStats
from referkit.stats.service import StatsService

router = APIRouter(tags=["Stats"])

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    # Pydantic would also read "0" as a Unix timestamp; the API takes YYYY-MM-DD only.
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
From = Annotated[IsoDate | None, Query(alias="from", description="First day (UTC), inclusive.")]
To = Annotated[IsoDate | None, Query(description="Last day (UTC), inclusive.")]


@router.get(
    "/members/{member_id}/stats",
    summary="A referrer's reach, clicks, referrals and qualified referrals",
    responses=problems(404, 422),
)
@replica_reads
async def get_member_stats(
    member_id: str,
    principal: AnalyticsPrincipal,
    session: Session,
    from_: From = None,
    to: To = None,
) -> MemberStats:
    return await StatsService(session).member(principal, member_id, from_, to)


@router.get(
    "/programs/{program_id}/stats",
    summary="A program's totals and time series",
    description="Defaults to the last 30 days; read from daily rollups. `warnings` lists what "
    "needs attention now, such as rewards waiting for codes from an empty coupon pool.",
    responses=problems(404, 422),
)
@replica_reads
async def get_program_stats(
    program_id: str,
    principal: AnalyticsPrincipal,
    session: Session,
    from_: From = None,
    to: To = None,
    interval: Annotated[Interval, Query()] = Interval.day,
) -> ProgramStats:
    return await StatsService(session).program(principal, program_id, from_, to, interval)


@router.get(
    "/programs/{program_id}/leaderboard",
    summary="A program's referrers ranked by qualified referrals, then referrals",
    responses=problems(404, 422),
)
@replica_reads
async def get_program_leaderboard(
    program_id: str,
    principal: AnalyticsPrincipal,
    session: Session,
    period: Annotated[Period, Query()] = Period.all,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> Leaderboard:
    return await StatsService(session).leaderboard(principal, program_id, period, limit)
