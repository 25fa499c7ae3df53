"""Models of mobile attribution: apps, client keys, installs, app analytics, ad-network
integrations and SKAdNetwork (re-exported by ``referkit_client.models``, where callers import
them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from referkit_client._base import Model, Request, Resource

# Apps (mobile attribution) ---------------------------------------------------------------------


class App(Resource):
    id: str
    name: str
    platforms: dict[str, Any] = Field(default_factory=dict)
    deep_link_scheme: str | None = None
    link_domain: str | None = None
    attribution: dict[str, Any] = Field(default_factory=dict)
    livemode: bool
    created_at: datetime


class ClientKey(Model):
    """A publishable key (``pk_app_…``) the app ships: it may only send this app's installs,
    opens and in-app events."""

    id: str
    app_id: str
    name: str
    key: str
    mode: Literal["live", "test"]
    created_at: datetime


class InstallAttribution(Model):
    method: str
    link_id: str | None = None
    click_id: str | None = None
    network: str | None = None
    campaign: str | None = None
    confidence: float | None = None
    matched: list[str] | None = None
    explanation: str = ""


class DeepLink(Model):
    url: str | None = None
    path: str | None = None
    params: dict[str, str] = Field(default_factory=dict)


class Install(Model):
    install_id: str
    app_id: str
    attribution: InstallAttribution
    reinstall: bool
    deep_link: DeepLink | None = None


class Money(Model):
    amount: int
    currency: str


class AppCounters(Model):
    clicks: int
    installs: int
    reinstalls: int
    opens: int
    events: int
    conversions: int
    revenue: list[Money] = Field(default_factory=list)
    conversion_rate: float


class AppStatsRow(AppCounters):
    key: str | None = Field(description="The link id, network, campaign or day (None: none).")


class AppStats(Model):
    app_id: str
    from_: date = Field(alias="from")
    to: date
    group_by: Literal["link", "network", "campaign", "day"]
    totals: AppCounters
    data: list[AppStatsRow]
    skan: SkanStats | None = Field(default=None, description="The period's Apple postbacks.")


class Period(Model):
    from_: date = Field(alias="from")
    to: date


class Kpi(Model):
    current: float
    previous: float
    change: float | None = Field(description="Relative change (0.25 = +25 %); None from zero.")


class TopLink(AppCounters):
    link_id: str


class Overview(Model):
    app_id: str
    name: str
    period: Period
    previous_period: Period
    kpis: dict[str, Kpi]
    current: AppCounters
    previous: AppCounters
    top_links: list[TopLink]
    skan: SkanStats | None = Field(default=None, description="The period's Apple postbacks.")


class PortfolioApp(Model):
    app_id: str
    name: str
    current: AppCounters
    previous: AppCounters


class Portfolio(Model):
    period: Period
    previous_period: Period
    data: list[PortfolioApp]
    totals: AppCounters
    previous_totals: AppCounters


# Ad-network integrations -----------------------------------------------------------------------


class Integration(Model):
    network: Literal["meta", "google_ads", "tiktok", "postback"]
    enabled: bool
    send: Literal["attributed", "all"]
    event_map: dict[str, str] = Field(default_factory=dict)
    config: dict[str, str] = Field(default_factory=dict)
    credentials_set: list[str] = Field(
        default_factory=list, description="Which credentials are stored (never their values)."
    )
    updated_at: datetime | None = None


class Integrations(Model):
    data: list[Integration]


class ForwardAttempt(Model):
    id: str
    attempt: int
    attempted_at: datetime
    outcome: str
    request: dict[str, Any] = Field(description="Method, URL, headers and body; secrets hidden.")
    status_code: int | None = None
    duration_ms: int
    error: str | None = None
    response_body: str | None = None


class Forward(Resource):
    """One event forwarded to a network, with every attempt."""

    id: str
    network: Literal["meta", "google_ads", "tiktok", "postback"]
    event_id: str
    event_name: str
    status: Literal["pending", "succeeded", "failed", "skipped"]
    attempt_count: int
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    created_at: datetime
    attempts: list[ForwardAttempt] = Field(default_factory=list)


class DryRun(Model):
    network: Literal["meta", "google_ads", "tiktok", "postback"]
    event_id: str | None
    would_send: bool
    reason: str | None
    request: dict[str, Any] | None = Field(description="Exactly what would be sent (no secrets).")


# SKAdNetwork / AdAttributionKit ----------------------------------------------------------------


class SkanSchema(Model):
    """The app's conversion-value schema (its newest version)."""

    app_id: str
    version: int
    currency: str
    fine: list[dict[str, Any]] = Field(default_factory=list)
    coarse: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    locks: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime


class SkanValue(Model):
    """What the app passes to ``updatePostbackConversionValue(_:coarseValue:lockWindow:)``."""

    install_id: str
    window: int | None
    fine: int | None
    coarse: Literal["low", "medium", "high"] | None
    lock: bool
    schema_version: int
    events: int
    revenue: int


class PostbackAck(Model):
    id: str
    status: Literal["stored", "duplicate"]
    verified: bool
    verification: str
    app_id: str | None = None


class SkanValueCount(Model):
    fine: int | None
    coarse: str | None
    postbacks: int
    range: dict[str, Any] | None = None


class SkanWindowStats(Model):
    window: int
    postbacks: int
    values: list[SkanValueCount]


class SkanCampaignStats(Model):
    source_identifier: str | None
    installs: int
    windows: list[SkanWindowStats]


class SkanStats(Model):
    """Verified, winning postbacks only; ``unverified`` counts the ones kept but not counted."""

    installs: int
    postbacks: int
    unverified: int
    campaigns: list[SkanCampaignStats]


# Requests --------------------------------------------------------------------------------------


class AppCreate(Request):
    name: str
    platforms: dict[str, Any] | None = Field(
        default=None, description='{"ios": {"bundle_id", "team_id", …}, "android": {…}, "web": {…}}'
    )
    deep_link_scheme: str | None = None
    link_domain: str | None = None
    attribution: dict[str, Any] | None = None


class Device(Request):
    """What the app knows of its device on first open; ``ip`` and ``user_agent`` default to the
    caller's own when the device calls with its client key."""

    os: Literal["ios", "android", "web", "other"]
    ip: str | None = None
    user_agent: str | None = None
    os_version: str | None = None
    model: str | None = None
    language: str | None = None
    screen: str | None = None
    timezone: str | None = None
    idfv: str | None = None
    gaid: str | None = None


class InstallCreate(Request):
    device: Device
    install_referrer: str | None = None
    click_id: str | None = None
    occurred_at: datetime | None = None
    event_id: str | None = Field(default=None, description="Sending it twice answers the first.")


class IntegrationUpdate(Request):
    """One network's settings; omitted fields keep their stored value. ``credentials`` are
    write-only (stored encrypted, never answered)."""

    network: Literal["meta", "google_ads", "tiktok", "postback"]
    enabled: bool | None = None
    credentials: dict[str, str] | None = None
    config: dict[str, str] | None = None
    event_map: dict[str, str] | None = None
    send: Literal["attributed", "all"] | None = None


class SkanSchemaInput(Request):
    """Fine values 0-63 (window 1), coarse low/medium/high per window, and lock rules; each
    rule names an ``event``, optional counts and a revenue range (minor units)."""

    currency: str | None = None
    fine: list[dict[str, Any]] | None = None
    coarse: dict[str, list[dict[str, Any]]] | None = None
    locks: list[dict[str, Any]] | None = None
