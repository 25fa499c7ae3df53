"""API schemas of apps, app links, installs and app analytics (API.md "Apps")."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from referkit.event.schemas import DeviceInput
from referkit.kit.schemas import RequestModel, ResponseModel, UtcDatetime
from referkit.link.schemas import HttpUrlText
from referkit.skan.schemas import SkanStats
from referkit.stats.schemas import Money

_FINGERPRINT = r"^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$"
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _upper(values: list[str]) -> list[str]:
    return [value.upper() for value in values]


class IosSettings(RequestModel):
    bundle_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9.-]{1,155}$", examples=["com.example.app"]
    )
    app_store_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$", examples=["123456789"])
    team_id: str | None = Field(
        default=None, pattern=r"^[A-Z0-9]{10}$", description="Apple Developer Team ID."
    )
    store_url: HttpUrlText | None = None


class AndroidSettings(RequestModel):
    package: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$",
        examples=["com.example.app"],
    )
    sha256_cert_fingerprints: Annotated[
        list[Annotated[str, Field(pattern=_FINGERPRINT)]], AfterValidator(_upper)
    ] = Field(default_factory=list, max_length=10, description="`AB:CD:…` (32 bytes).")
    store_url: HttpUrlText | None = None


class WebSettings(RequestModel):
    url: HttpUrlText | None = Field(default=None, examples=["https://example.com/app"])


class Platforms(RequestModel):
    ios: IosSettings | None = None
    android: AndroidSettings | None = None
    web: WebSettings | None = None


class AttributionSettings(RequestModel):
    click_window_days: int = Field(
        default=7, ge=1, le=90, description="How long a click may lead to an install."
    )
    probabilistic_window_hours: int = Field(
        default=24,
        ge=0,
        le=168,
        description="How long a click may be matched by device signals (0 turns it off).",
    )
    reattribution_window_days: int = Field(
        default=90, ge=0, le=365, description="A click this recent re-attributes an `open`."
    )


class AppCreate(RequestModel):
    name: Name = Field(examples=["Example"])
    platforms: Platforms = Field(default_factory=Platforms)
    deep_link_scheme: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9+.-]{0,99}$", examples=["example"]
    )
    link_domain: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9.-]{1,255}$",
        description="The host your app's associated domains name (defaults to any host).",
    )
    attribution: AttributionSettings = Field(default_factory=AttributionSettings)


class AppUpdate(RequestModel):
    name: Name | None = None
    platforms: Platforms | None = None
    deep_link_scheme: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9+.-]{0,99}$")
    link_domain: str | None = Field(default=None, pattern=r"^[a-z0-9.-]{1,255}$")
    attribution: AttributionSettings | None = None


class App(ResponseModel):
    id: str = Field(examples=["app_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    name: str
    platforms: dict[str, Any]
    deep_link_scheme: str | None
    link_domain: str | None
    attribution: AttributionSettings
    livemode: bool
    created_at: datetime
    updated_at: datetime


class ClientKeyCreate(RequestModel):
    name: str = Field(default="App client key", min_length=1, max_length=200)


class ClientKey(BaseModel):
    id: str
    app_id: str
    name: str
    key: str = Field(
        description="Publishable: ship it in the app as `Authorization: Bearer pk_app_…`. It "
        "may only send this app's installs, opens and in-app events.",
        examples=["pk_app_3q9XbT2kQm8sWz7yVn4cRf6hJp1d"],
    )
    mode: str
    created_at: datetime


class InstallCreate(RequestModel):
    device: DeviceInput
    install_referrer: str | None = Field(
        default=None,
        max_length=1000,
        description="Android: the Play Install Referrer string (carries `rk_click=…`).",
    )
    click_id: str | None = Field(
        default=None, max_length=40, description="From a universal link or deferred parameter."
    )
    occurred_at: UtcDatetime | None = None
    event_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Your id for this install (e.g. a UUID kept on the device): sending the "
        "same install twice answers the first answer.",
    )


class InstallAttribution(BaseModel):
    method: str = Field(examples=["probabilistic"])
    link_id: str | None = None
    click_id: str | None = None
    network: str | None = None
    campaign: str | None = None
    confidence: float | None = Field(default=None, examples=[0.82])
    matched: list[str] | None = Field(default=None, description="Probabilistic: what matched.")
    explanation: str


class DeepLink(BaseModel):
    url: str | None = Field(examples=["example://product/42?coupon=SPRING"])
    path: str | None = Field(examples=["/product/42"])
    params: dict[str, str]


class Install(BaseModel):
    install_id: str
    app_id: str
    attribution: InstallAttribution
    reinstall: bool
    deep_link: DeepLink | None


class GroupBy(StrEnum):
    link = "link"
    network = "network"
    campaign = "campaign"
    day = "day"


class AppCounters(BaseModel):
    clicks: int
    installs: int
    reinstalls: int
    opens: int
    events: int
    conversions: int
    revenue: list[Money]
    conversion_rate: float = Field(description="Installs per click (0 when no clicks).")


class AppStatsRow(AppCounters):
    key: str | None = Field(description="The link id, network, campaign or day (null: none).")


class AppStats(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    app_id: str
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    group_by: GroupBy
    totals: AppCounters
    data: list[AppStatsRow]
    skan: SkanStats | None = Field(
        default=None, description="SKAdNetwork / AdAttributionKit postbacks of the period."
    )


class TopLink(AppCounters):
    link_id: str


class Period(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", serialization_alias="from")
    to: date


class Kpi(BaseModel):
    current: float
    previous: float
    change: float | None = Field(description="Relative change (0.25 = +25%); null from zero.")


class Overview(BaseModel):
    app_id: str
    name: str
    period: Period
    previous_period: Period
    kpis: dict[str, Kpi] = Field(
        description="clicks, installs, reinstalls, events, conversion_rate, and revenue_<CUR> "
        "per currency."
    )
    current: AppCounters
    previous: AppCounters
    top_links: list[TopLink]
    skan: SkanStats | None = Field(
        default=None, description="SKAdNetwork / AdAttributionKit postbacks of the period."
    )


class PortfolioApp(BaseModel):
    app_id: str
    name: str
    current: AppCounters
    previous: AppCounters


class Portfolio(BaseModel):
    period: Period
    previous_period: Period
    data: list[PortfolioApp]
    totals: AppCounters
    previous_totals: AppCounters
