from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from ipaddress import ip_network
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from referkit.kit.email import canonical_email
from referkit.kit.schemas import Currency, RequestModel, ResponseModel
from referkit.kit.urls import check_http_url, check_origin

HttpUrlText = Annotated[str, AfterValidator(check_http_url)]


class ProgramStatus(StrEnum):
    active = "active"
    paused = "paused"
    archived = "archived"


class AttributionModel(StrEnum):
    last_click = "last_click"
    first_click = "first_click"


class FraudMode(StrEnum):
    flag = "flag"
    block = "block"


class Recipient(StrEnum):
    referrer = "referrer"
    referee = "referee"


class Trigger(StrEnum):
    referral_created = "referral_created"
    referral_qualified = "referral_qualified"
    milestone = "milestone"


class RewardKind(StrEnum):
    cash = "cash"
    credit = "credit"
    coupon = "coupon"
    points = "points"
    custom = "custom"


class RefundPolicy(StrEnum):
    deny = "deny"
    keep = "keep"


class Attribution(RequestModel):
    model: AttributionModel = AttributionModel.last_click
    window_days: int = Field(default=30, ge=1, le=365, description="Lookback window for clicks.")


class Qualification(RequestModel):
    event: str = Field(
        default="purchase",
        min_length=1,
        max_length=100,
        description="Event type (or custom event name) that qualifies a referral.",
    )
    min_amount: int | None = Field(
        default=None, ge=0, le=10**12, description="Minimum amount in minor units."
    )
    currency: Currency | None = None
    within_days: int | None = Field(
        default=None, ge=1, le=3650, description="Days after the referral it must happen in."
    )
    on_refund: RefundPolicy = Field(
        default=RefundPolicy.deny,
        description="What a refund of the qualifying purchase does to the referral.",
    )

    @model_validator(mode="after")
    def _amount_needs_currency(self) -> Self:
        if self.min_amount is not None and self.currency is None:
            raise ValueError("min_amount needs a currency")
        return self


def _emails(values: list[str]) -> list[str]:
    return sorted({canonical_email(v) for v in values if v.strip()})


def _domains(values: list[str]) -> list[str]:
    out = {v.strip().lower().lstrip("@") for v in values if v.strip()}
    if any(" " in d or "." not in d for d in out):
        raise ValueError("each entry must be a domain such as example.com")
    return sorted(out)


def _ip_ranges(values: list[str]) -> list[str]:
    try:
        return sorted({str(ip_network(v.strip(), strict=False)) for v in values if v.strip()})
    except ValueError as exc:
        raise ValueError(f"not an IP address or network ({exc})") from None


Emails = Annotated[
    list[Annotated[str, Field(max_length=320)]], Field(max_length=500), AfterValidator(_emails)
]
Domains = Annotated[
    list[Annotated[str, Field(max_length=253)]], Field(max_length=500), AfterValidator(_domains)
]
IpRanges = Annotated[
    list[Annotated[str, Field(max_length=64)]], Field(max_length=500), AfterValidator(_ip_ranges)
]


class Fraud(RequestModel):
    mode: FraudMode = Field(
        default=FraudMode.flag, description="flag: hold for review; block: refuse the referral."
    )
    self_referral: bool = Field(default=True, description="Refuse referees who are the referrer.")
    max_referrals_per_member_per_day: int | None = Field(default=None, ge=1, le=1_000_000)
    max_referrals_per_member_per_hour: int | None = Field(default=None, ge=1, le=1_000_000)
    disposable_emails: bool = Field(
        default=True, description="Flag referees whose email domain is a disposable-mail service."
    )
    blocked_emails: Emails = Field(default_factory=list, description="Referee emails to flag.")
    blocked_domains: Domains = Field(default_factory=list, description="Email domains to flag.")
    blocked_ip_ranges: IpRanges = Field(
        default_factory=list,
        description="Referee IPs or CIDR ranges to flag.",
        examples=[["203.0.113.0/24"]],
    )
    same_device: bool = Field(
        default=True,
        description="Flag referees on the referrer's own device: the same visitor cookie "
        "(`same_visitor`, high) or the same IP address (`same_ip`, medium) as the referrer's "
        "member record (`ip`, `visitor_id`) or the referrer's own events and their clicks.",
    )


class RewardRuleInput(RequestModel):
    id: str | None = Field(
        default=None, description="Keep an existing rule's id when replacing the rule list."
    )
    recipient: Recipient
    trigger: Trigger
    milestone_count: int | None = Field(default=None, ge=1, le=100_000)
    kind: RewardKind
    amount: int | None = Field(default=None, ge=1, le=10**12, description="Minor units or points.")
    percent: float | None = Field(default=None, gt=0, le=100)
    max_amount: int | None = Field(default=None, ge=1, le=10**12, description="Cap for percent.")
    currency: Currency | None = None
    coupon_pool: str | None = Field(default=None, min_length=1, max_length=100)
    hold_days: int = Field(default=0, ge=0, le=365)
    max_per_member: int | None = Field(default=None, ge=1, le=1_000_000)
    description: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.trigger is Trigger.milestone) != (self.milestone_count is not None):
            raise ValueError("milestone_count is required for, and only for, trigger=milestone")
        if self.amount is not None and self.percent is not None:
            raise ValueError("give either amount or percent, not both")
        if self.percent is not None and self.trigger is not Trigger.referral_qualified:
            raise ValueError("percent rewards need trigger=referral_qualified (a purchase)")
        if self.max_amount is not None and self.percent is None:
            raise ValueError("max_amount caps percent rewards only")
        if self.kind in (RewardKind.cash, RewardKind.credit):
            if self.amount is None and self.percent is None:
                raise ValueError(f"{self.kind.value} rewards need an amount or a percent")
            if self.currency is None:
                raise ValueError(f"{self.kind.value} rewards need a currency")
        if self.kind is RewardKind.points:
            if self.amount is None and self.percent is None:
                raise ValueError("points rewards need an amount or a percent")
            if self.currency is not None:
                raise ValueError("points rewards have no currency")
        if self.kind is RewardKind.coupon and not self.coupon_pool:
            raise ValueError("coupon rewards need a coupon_pool")
        if self.kind is RewardKind.custom and not self.description:
            raise ValueError("custom rewards need a description")
        return self


class RewardRule(BaseModel):
    id: str
    recipient: Recipient
    trigger: Trigger
    milestone_count: int | None = None
    kind: RewardKind
    amount: int | None = None
    percent: float | None = None
    max_amount: int | None = None
    currency: str | None = None
    coupon_pool: str | None = None
    hold_days: int = 0
    max_per_member: int | None = None
    description: str = ""


class EmbedTheme(StrEnum):
    light = "light"
    dark = "dark"
    auto = "auto"


# Values end up in a stylesheet: only shapes that cannot carry CSS of their own are accepted.
HexColor = Annotated[
    str,
    Field(pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", examples=["#4f46e5"]),
]
FontName = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{0,59}$",
        description="A font family the host page's visitors have (e.g. `Inter`); the system "
        "font is the fallback. Nothing is downloaded.",
        examples=["Inter"],
    ),
]


class EmbedSettings(RequestModel):
    """How the embedded referrer dashboard looks; the mount call may override each value."""

    theme: EmbedTheme = Field(
        default=EmbedTheme.auto, description="`auto` follows the visitor's light/dark setting."
    )
    accent: HexColor | None = Field(default=None, description="Buttons and progress bars.")
    background: HexColor | None = Field(
        default=None, description="Page background; text colours are chosen to contrast with it."
    )
    radius: int | None = Field(default=None, ge=0, le=32, description="Corner radius in px.")
    font: FontName | None = None


def _origins(values: list[str]) -> list[str]:
    return sorted({check_origin(v) for v in values})


Origins = Annotated[list[str], Field(max_length=50), AfterValidator(_origins)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$", examples=["spring-referrals"])]


class ProgramCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200, examples=["Give $20, get $20"])
    landing_url: HttpUrlText = Field(
        description="Where referral links send friends.", examples=["https://example.com/signup"]
    )
    slug: Slug | None = Field(default=None, description="Defaults to a slug of the name.")
    status: ProgramStatus = ProgramStatus.active
    app_id: str | None = Field(default=None, max_length=40)
    allowed_origins: Origins = Field(
        default_factory=list, description="Origins allowed to embed the referrer dashboard."
    )
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    attribution: Attribution = Field(default_factory=Attribution)
    qualification: Qualification = Field(default_factory=Qualification)
    reward_rules: list[RewardRuleInput] = Field(default_factory=list, max_length=50)
    fraud: Fraud = Field(default_factory=Fraud)
    auto_issue: bool = Field(
        default=False, description="Issue rewards automatically once their hold ends."
    )

    @field_validator("reward_rules")
    @classmethod
    def _no_ids_on_create(cls, rules: list[RewardRuleInput]) -> list[RewardRuleInput]:
        if any(rule.id for rule in rules):
            raise ValueError("rule ids are assigned by the server")
        return rules


class PartialAttribution(RequestModel):
    model: AttributionModel | None = None
    window_days: int | None = Field(default=None, ge=1, le=365)


class PartialQualification(RequestModel):
    event: str | None = Field(default=None, min_length=1, max_length=100)
    min_amount: int | None = Field(default=None, ge=0, le=10**12)
    currency: Currency | None = None
    within_days: int | None = Field(default=None, ge=1, le=3650)
    on_refund: RefundPolicy | None = None


class PartialFraud(RequestModel):
    mode: FraudMode | None = None
    self_referral: bool | None = None
    max_referrals_per_member_per_day: int | None = Field(default=None, ge=1, le=1_000_000)
    max_referrals_per_member_per_hour: int | None = Field(default=None, ge=1, le=1_000_000)
    disposable_emails: bool | None = None
    blocked_emails: Emails | None = None
    blocked_domains: Domains | None = None
    blocked_ip_ranges: IpRanges | None = None
    same_device: bool | None = None


class ProgramUpdate(RequestModel):
    """Only the fields sent change; nested settings merge key by key; reward_rules is replaced."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    landing_url: HttpUrlText | None = None
    slug: Slug | None = None
    status: ProgramStatus | None = None
    app_id: str | None = Field(default=None, max_length=40)
    allowed_origins: Origins | None = None
    embed: EmbedSettings | None = None
    attribution: PartialAttribution | None = None
    qualification: PartialQualification | None = None
    reward_rules: list[RewardRuleInput] | None = Field(default=None, max_length=50)
    fraud: PartialFraud | None = None
    auto_issue: bool | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> Self:
        required = (
            "name",
            "landing_url",
            "slug",
            "status",
            "allowed_origins",
            "reward_rules",
            "attribution",
            "qualification",
            "fraud",
            "auto_issue",
            "embed",
        )
        for name in required:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Program(ResponseModel):
    id: str = Field(examples=["prog_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    name: str
    slug: str
    status: ProgramStatus
    livemode: bool
    landing_url: str
    app_id: str | None
    allowed_origins: list[str]
    embed: EmbedSettings
    attribution: Attribution
    qualification: Qualification
    reward_rules: list[RewardRule]
    fraud: Fraud
    auto_issue: bool
    created_at: datetime
    updated_at: datetime
