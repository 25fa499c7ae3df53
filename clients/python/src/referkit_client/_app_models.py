"""Models of mobile attribution: apps, client keys, installs and app analytics (re-exported by
``referkit_client.models``, where callers import them)."""

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
