from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Interval(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class Period(StrEnum):
    all = "all"
    month = "month"
    prev_month = "prev_month"


class Money(BaseModel):
    amount: int = Field(description="Minor units.", examples=[2500])
    currency: str = Field(examples=["USD"])


class Counters(BaseModel):
    clicks: int = Field(description="Human clicks (bots excluded).", examples=[120])
    bot_clicks: int = Field(examples=[4])
    reach: int = Field(description="Unique visitors: one per link per hour.", examples=[80])
    installs: int = Field(examples=[0])
    signups: int = Field(examples=[12])
    referrals: int = Field(examples=[10])
    qualified_referrals: int = Field(examples=[3])
    conversions: int = Field(description="Purchases.", examples=[5])
    revenue: list[Money] = Field(description="Purchases minus refunds, per currency.")


class RewardTotals(BaseModel):
    unit: str = Field(description="ISO 4217 currency, or `points`.", examples=["USD"])
    earned: int = Field(description="Pending plus issued, net of cancellations and reversals.")
    pending: int
    issued: int


class MemberStats(Counters):
    model_config = ConfigDict(populate_by_name=True)

    member_id: str
    from_: date | None = Field(alias="from", serialization_alias="from")
    to: date | None
    rewards_earned: Money | None = Field(
        default=None,
        description="All-time rewards earned in the member's main currency (null when none).",
    )
    rewards: list[RewardTotals] = Field(
        default_factory=list, description="All-time reward totals per currency (or points)."
    )


class StatsPoint(Counters):
    start: date = Field(description="First day of the bucket.")


class StatsWarning(BaseModel):
    """Something about the program that needs a person's attention."""

    code: str = Field(
        description="`coupon_pool_empty`: rewards are waiting for codes from a coupon pool.",
        examples=["coupon_pool_empty"],
    )
    detail: str = Field(
        examples=['3 rewards are waiting for codes in pool "welcome"; upload codes to issue them.']
    )
    pool: str | None = Field(default=None, description="The coupon pool.", examples=["welcome"])
    waiting: int | None = Field(
        default=None,
        description="Pending rewards held for a code (`held_reason: coupon_pool_empty`).",
        examples=[3],
    )
    available: int | None = Field(
        default=None, description="Free codes in the pool now.", examples=[0]
    )


class ProgramStats(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    program_id: str
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    interval: Interval
    totals: Counters
    series: list[StatsPoint]
    warnings: list[StatsWarning] = Field(
        default_factory=list,
        description="What needs attention now, whatever the date range (empty when all is "
        "well): one `coupon_pool_empty` per coupon pool that rewards are waiting on.",
    )


class LeaderboardEntry(BaseModel):
    rank: int = Field(examples=[1])
    member_id: str
    referral_code: str
    name: str | None
    referrals: int
    qualified_referrals: int
    reach: int
    clicks: int


class Leaderboard(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    program_id: str
    period: Period
    from_: date | None = Field(alias="from", serialization_alias="from")
    to: date | None
    data: list[LeaderboardEntry]


class GroupBy(StrEnum):
    country = "country"
    device = "device"
    os = "os"
    browser = "browser"
    referrer = "referrer"
    utm_source = "utm_source"
    utm_campaign = "utm_campaign"
    network = "network"
    campaign = "campaign"


APP_GROUPS = frozenset({GroupBy.network, GroupBy.campaign})
"""Only for links and programs of an app."""


class GroupCounters(BaseModel):
    clicks: int = Field(description="Human clicks (bots excluded).", examples=[120])
    reach: int = Field(description="Unique visitors: one per link per hour.", examples=[80])
    signups: int = Field(description="Referrals created.", examples=[12])
    conversions: int = Field(description="Purchases.", examples=[5])
    revenue: list[Money] = Field(description="Purchases minus refunds, per currency.")


class BreakdownGroup(GroupCounters):
    value: str | None = Field(
        description="The group: an ISO 3166-1 alpha-2 country, `desktop|mobile|tablet`, an OS "
        "or browser family, a referring host, a utm value, an ad network or campaign; null "
        "when unknown (no referrer: a direct visit).",
        examples=["US"],
    )


class Breakdown(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    link_id: str | None = Field(default=None, description="Set on a link's stats.")
    program_id: str | None = Field(default=None, description="Set on a program's breakdown.")
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    group_by: GroupBy | None = Field(description="Null when no grouping was asked for.")
    totals: GroupCounters
    groups: list[BreakdownGroup] = Field(
        description="Most clicks first (then conversions, then signups); at most `limit`."
    )
    more: bool = Field(description="Whether groups beyond `limit` were left out.")
