from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import Query
from pydantic import BeforeValidator

from referkit.auth.dependencies import AnalyticsPrincipal, Session
from referkit.db.session import APIRouter, replica_reads
from referkit.kit.schemas import WholeNumber
from referkit.openapi import problems
from referkit.stats.breakdown import BreakdownService
from referkit.stats.schemas import (
    Breakdown,
    GroupBy,
    Interval,
    Leaderboard,
    MemberStats,
    Period,
    ProgramStats,
)
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
    limit: Annotated[int, Ge(1), Le(100), WholeNumber, Query()] = 25,
) -> Leaderboard:
    return await StatsService(session).leaderboard(principal, program_id, period, limit)


_GROUP_BY = (
    "`country` (ISO 3166-1 alpha-2, from the visitor's address), `device` (`desktop`, "
    "`mobile`, `tablet`), `os`, `browser` (from the user agent), `referrer` (the referring "
    "host), `utm_source`, `utm_campaign` (the request's, else the link's), and for apps "
    "`network` and `campaign`."
)
_BREAKDOWN = (
    " Bots are excluded; signups are referrals created, conversions purchases, revenue "
    "purchases minus refunds, each counted under the groups of the click it was attributed "
    "to. Defaults to the last 30 days; read from per-day dimension rollups."
)
Limit = Annotated[
    int,
    Ge(1),
    Le(1000),
    WholeNumber,
    Query(description="Most groups answered (most clicks first)."),
]


@router.get(
    "/links/{link_id}/stats",
    summary="A link's clicks, reach, signups, conversions and revenue, optionally per group",
    description="Totals over `from`..`to`; with `group_by`, per group: " + _GROUP_BY + _BREAKDOWN,
    responses=problems(404, 422),
)
async def get_link_stats(
    link_id: str,
    principal: AnalyticsPrincipal,
    session: Session,
    from_: From = None,
    to: To = None,
    group_by: Annotated[GroupBy | None, Query(description=_GROUP_BY)] = None,
    limit: Limit = 100,
) -> Breakdown:
    return await BreakdownService(session).link(principal, link_id, group_by, from_, to, limit)


@router.get(
    "/programs/{program_id}/breakdown",
    summary="A program's clicks, reach, signups, conversions and revenue per group",
    description="Per group of `group_by`: " + _GROUP_BY + _BREAKDOWN,
    responses=problems(404, 422),
)
async def get_program_breakdown(
    program_id: str,
    principal: AnalyticsPrincipal,
    session: Session,
    group_by: Annotated[GroupBy, Query(description=_GROUP_BY)],
    from_: From = None,
    to: To = None,
    limit: Limit = 100,
) -> Breakdown:
    return await BreakdownService(session).program(
        principal, program_id, group_by, from_, to, limit
    )
