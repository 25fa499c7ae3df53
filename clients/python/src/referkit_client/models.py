"""Typed request and response models of the Referkit API (``/api/v1``).

Responses keep every field the server sends (``extra="allow"``): a newer server's additions
are readable as attributes before this client names them. Requests are validated here only for
shape; the server stays the judge of every rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Request(BaseModel):
    """Request bodies: unset fields are not sent; extra keys pass through to the server."""

    model_config = ConfigDict(extra="allow")


# Envelopes -------------------------------------------------------------------------------------


class PageMeta(Model):
    has_more: bool = Field(alias="hasMore")
    cursor: str | None = None
    limit: int
    offset: int | None = None
    total: int | None = None


class Page(Model, Generic[T]):
    data: list[T]
    meta: PageMeta


# Resources -------------------------------------------------------------------------------------


class Resource(Model):
    """Any object the API answers; typed subclasses below name the common fields."""

    id: str | None = None


class Workspace(Resource):
    name: str | None = None


class ApiKey(Resource):
    id: str
    name: str
    scope: Literal["full", "read_only", "analytics"]
    mode: Literal["live", "test"]
    public_key: str
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
    destination_url: str
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


class Stats(Model):
    clicks: int = 0
    reach: int = 0
    referrals: int = 0
    qualified_referrals: int = 0


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
    destination_url: str
    code: str | None = None


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
