"""Typed request and response models of the Referkit API (``/api/v1``).

Responses keep every field the server sends (``extra="allow"``): a newer server's additions
are readable as attributes before this client names them. Requests are validated here only for
shape; the server stays the judge of every rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from referkit_client._app_models import (
    App,
    AppCounters,
    AppCreate,
    AppStats,
    AppStatsRow,
    ClientKey,
    DeepLink,
    Device,
    DryRun,
    Forward,
    ForwardAttempt,
    Install,
    InstallAttribution,
    InstallCreate,
    Integration,
    Integrations,
    IntegrationUpdate,
    Kpi,
    Money,
    Overview,
    Period,
    Portfolio,
    PortfolioApp,
    PostbackAck,
    SkanCampaignStats,
    SkanSchema,
    SkanSchemaInput,
    SkanStats,
    SkanValue,
    SkanValueCount,
    SkanWindowStats,
    TopLink,
)
from referkit_client._base import Model, Page, PageMeta, Request, Resource

# Resources -------------------------------------------------------------------------------------


class Workspace(Resource):
    name: str | None = None


class ApiKey(Resource):
    id: str
    name: str
    scope: Literal["full", "read_only", "analytics", "app_client"]
    mode: Literal["live", "test"]
    public_key: str
    secret_hint: str | None = None
    rate_limit_per_minute: int | None = None
    app_id: str | None = Field(default=None, description="The app of a client key (pk_app_…).")
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    secret: str | None = Field(default=None, description="Only on create and regenerate.")


class RewardRule(Model):
    id: str | None = None
    recipient: Literal["referrer", "referee"]
    trigger: Literal["referral_created", "referral_qualified", "milestone"]
    kind: Literal["cash", "credit", "coupon", "points", "custom"]
    amount: int | None = None
    percent: float | None = None
    currency: str | None = None
    hold_days: int = 0
    description: str = ""


class Program(Resource):
    id: str
    name: str
    slug: str
    status: Literal["active", "paused", "archived"]
    landing_url: str
    reward_rules: list[RewardRule] = Field(default_factory=list)
    livemode: bool
    created_at: datetime


class Member(Resource):
    id: str
    program_id: str
    email: str | None
    external_id: str | None
    name: str | None
    referral_code: str
    referral_link: str
    status: Literal["active", "disabled"]
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class Referee(Model):
    email: str | None = None
    external_id: str | None = None
    name: str | None = None


class Referral(Resource):
    id: str
    program_id: str
    member_id: str
    referee: Referee
    status: Literal["pending", "qualified", "approved", "denied"]
    attribution: dict[str, Any]
    fraud: dict[str, Any]
    qualified_at: datetime | None = None
    created_at: datetime


class Reward(Resource):
    id: str
    program_id: str
    member_id: str
    referral_id: str | None
    recipient: Literal["referrer", "referee"]
    kind: str
    amount: int | None
    currency: str | None
    status: Literal["pending", "issued", "cancelled", "reversed"]
    eligible_at: datetime
    issued_at: datetime | None = None
    created_at: datetime


class Link(Resource):
    id: str
    code: str
    short_url: str
    destination_url: str | None = Field(description="None: the program's landing URL.")
    app_id: str | None = None
    program_id: str | None = None
    member_id: str | None = None
    ios_url: str | None = None
    android_url: str | None = None
    deep_link_path: str | None = None
    deep_link_params: dict[str, str] | None = None
    network: str | None = None
    campaign: str | None = None
    clicks: int = 0
    created_at: datetime


class Event(Resource):
    event_id: str | None = None
    type: str | None = None
    attribution: dict[str, Any] | None = None


class WebhookEndpoint(Resource):
    id: str
    url: str
    events: list[str]
    enabled: bool
    secret: str | None = Field(default=None, description="Only on create and rotate-secret.")


class WebhookMessage(Resource):
    id: str
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    payload: dict[str, Any]
    attempts: list[dict[str, Any]] = Field(default_factory=list)


class Hook(Resource):
    id: str
    target_url: str
    event: str


class EmbedToken(Model):
    token: str
    url: str
    expires_at: datetime
    member_id: str
    program_id: str


class Customer(Resource):
    id: str
    external_id: str | None
    email: str | None
    livemode: bool
    created_at: datetime


class ExportedClick(Resource):
    id: str
    link_id: str | None = None
    program_id: str | None = None
    member_id: str | None = None
    code: str
    visitor_id: str | None = None
    platform: str
    is_bot: bool
    user_agent: str | None = None
    referer: str | None = None
    created_at: datetime


class CustomerExport(Model):
    """Everything stored about one person (GDPR access / portability); each event, referral
    and click also carries its stored ``ip``, ``user_agent`` and ``visitor_id``."""

    exported_at: datetime
    customer: Customer
    events: list[Event]
    referrals: list[Referral] = Field(description="Referrals where they are the referee.")
    rewards: list[Reward] = Field(description="Rewards they receive (as the referee).")
    clicks: list[ExportedClick]


class Erasure(Resource):
    """Who erased whose data, when, and how much (never the data)."""

    id: str
    subject_type: Literal["customer", "member"]
    subject_id: str
    key_id: str | None
    counts: dict[str, int]
    created_at: datetime


class Stats(Model):
    clicks: int = 0
    reach: int = 0
    referrals: int = 0
    qualified_referrals: int = 0


class GroupCounters(Model):
    """Human clicks, unique visitors, referrals created, purchases, and revenue per currency."""

    clicks: int = 0
    reach: int = 0
    signups: int = 0
    conversions: int = 0
    revenue: list[Money] = Field(default_factory=list)


class BreakdownGroup(GroupCounters):
    value: str | None = Field(description="The group; None when unknown (a direct visit).")


class Breakdown(Model):
    """A link's stats or a program's breakdown: totals, and one entry per group."""

    link_id: str | None = None
    program_id: str | None = None
    from_: str = Field(alias="from")
    to: str
    group_by: str | None
    totals: GroupCounters
    groups: list[BreakdownGroup]
    more: bool = False


# Requests --------------------------------------------------------------------------------------


class ProgramCreate(Request):
    name: str
    landing_url: str
    reward_rules: list[dict[str, Any]] | None = None


class MemberCreate(Request):
    email: str | None = None
    external_id: str | None = None
    name: str | None = None
    referral_code: str | None = None
    metadata: dict[str, Any] | None = None


class RefereeInput(Request):
    email: str | None = None
    external_id: str | None = None
    name: str | None = None


class ReferralCreate(Request):
    referee: RefereeInput
    referral_code: str | None = None
    click_id: str | None = None
    member_id: str | None = None
    program_id: str | None = None


class RewardCreate(Request):
    member_id: str
    kind: Literal["cash", "credit", "coupon", "points", "custom"]
    amount: int | None = None
    currency: str | None = None
    description: str | None = None


class LinkCreate(Request):
    destination_url: str | None = None
    code: str | None = None
    app_id: str | None = None
    program_id: str | None = None
    member_id: str | None = None
    ios_url: str | None = None
    android_url: str | None = None
    deep_link_path: str | None = None
    deep_link_params: dict[str, str] | None = None
    network: str | None = None
    campaign: str | None = None


class EventCreate(Request):
    event_id: str
    type: Literal["install", "open", "signup", "purchase", "refund", "custom"]
    customer: dict[str, Any] | None = None
    referral_code: str | None = None
    click_id: str | None = None
    amount: int | None = None
    currency: str | None = None


class WebhookCreate(Request):
    url: str
    events: list[str] | None = None
    description: str | None = None


class KeyCreate(Request):
    name: str
    scope: Literal["full", "read_only", "analytics"] = "full"
    mode: Literal["live", "test"] = "live"


__all__ = [
    "ApiKey",
    "App",
    "AppCounters",
    "AppCreate",
    "AppStats",
    "AppStatsRow",
    "Breakdown",
    "BreakdownGroup",
    "ClientKey",
    "Customer",
    "CustomerExport",
    "DeepLink",
    "Device",
    "DryRun",
    "EmbedToken",
    "Erasure",
    "Event",
    "EventCreate",
    "ExportedClick",
    "Forward",
    "ForwardAttempt",
    "GroupCounters",
    "Hook",
    "Install",
    "InstallAttribution",
    "InstallCreate",
    "Integration",
    "IntegrationUpdate",
    "Integrations",
    "KeyCreate",
    "Kpi",
    "Link",
    "LinkCreate",
    "Member",
    "MemberCreate",
    "Model",
    "Money",
    "Overview",
    "Page",
    "PageMeta",
    "Period",
    "Portfolio",
    "PortfolioApp",
    "PostbackAck",
    "Program",
    "ProgramCreate",
    "Referee",
    "RefereeInput",
    "Referral",
    "ReferralCreate",
    "Request",
    "Resource",
    "Reward",
    "RewardCreate",
    "RewardRule",
    "SkanCampaignStats",
    "SkanSchema",
    "SkanSchemaInput",
    "SkanStats",
    "SkanValue",
    "SkanValueCount",
    "SkanWindowStats",
    "Stats",
    "TopLink",
    "WebhookCreate",
    "WebhookEndpoint",
    "WebhookMessage",
    "Workspace",
]
