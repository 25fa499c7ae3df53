from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, Field, model_validator

from referkit.kit.schemas import (
    MAX_JSON_DEPTH,
    Currency,
    Email,
    JsonObject,
    RequestModel,
    ResponseModel,
    UtcDatetime,
)
from referkit.openapi import Problem

MAX_BATCH = 1000


def _small_properties(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > 50:
        raise ValueError("at most 50 keys")
    if any(len(key) > 100 for key in value):
        raise ValueError("keys are at most 100 characters")
    return value


class EventType(StrEnum):
    install = "install"
    open = "open"
    signup = "signup"
    purchase = "purchase"
    refund = "refund"
    custom = "custom"


class CustomerInput(RequestModel):
    external_id: str | None = Field(
        default=None, min_length=1, max_length=200, examples=["user_456"]
    )
    email: Email | None = Field(default=None, examples=["friend@example.com"])


class DeviceOs(StrEnum):
    ios = "ios"
    android = "android"
    web = "web"
    other = "other"


class DeviceInput(RequestModel):
    """What an app knows of its device on first open. ``ip`` and ``user_agent`` default to the
    request's own when a device calls with a client key."""

    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=1000)
    os: DeviceOs = Field(examples=["ios"])
    os_version: str | None = Field(default=None, max_length=20, examples=["17.4"])
    model: str | None = Field(default=None, max_length=100, examples=["iPhone15,2"])
    language: str | None = Field(default=None, max_length=20, examples=["en-US"])
    screen: str | None = Field(default=None, max_length=20, examples=["1179x2556"])
    timezone: str | None = Field(default=None, max_length=64, examples=["Europe/Paris"])
    idfv: str | None = Field(
        default=None, max_length=100, description="iOS identifierForVendor (stored hashed)."
    )
    gaid: str | None = Field(
        default=None, max_length=100, description="Android advertising id (stored hashed)."
    )


class EventCreate(RequestModel):
    event_id: str = Field(
        min_length=1,
        max_length=200,
        description="Your unique id for this event; a replay answers 200 with the first answer.",
        examples=["order-1001"],
    )
    type: EventType = Field(examples=["purchase"])
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Name of a custom event."
    )
    occurred_at: UtcDatetime | None = Field(default=None, description="Defaults to now.")
    app_id: str | None = Field(default=None, max_length=40)
    program_id: str | None = Field(default=None, max_length=40)
    click_id: str | None = Field(
        default=None, max_length=40, description="The `rk_click` value the visitor arrived with."
    )
    visitor_id: str | None = Field(
        default=None,
        max_length=64,
        description="The visitor's `rk_vid` cookie, for cookie attribution and the "
        "same-device fraud check (a referee on the referrer's device is flagged).",
    )
    referral_code: str | None = Field(default=None, min_length=1, max_length=40)
    customer: CustomerInput | None = None
    amount: int | None = Field(
        default=None, ge=0, le=10**12, description="Minor units (2500 = $25.00)."
    )
    currency: Currency | None = None
    refunded_event_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="For `refund`: the purchase."
    )
    properties: Annotated[JsonObject, AfterValidator(_small_properties)] = Field(
        default_factory=dict,
        description="Your own data about the event: at most 50 keys, nested at most "
        f"{MAX_JSON_DEPTH} levels.",
    )
    ip: str | None = Field(
        default=None,
        max_length=64,
        description="The customer's IP address (used by the same-device fraud check).",
    )
    user_agent: str | None = Field(default=None, max_length=1000)
    install_id: str | None = Field(
        default=None,
        max_length=40,
        description="For app events: the `install_id` the app was given on first open; the "
        "event is credited to that install's click.",
    )
    device: DeviceInput | None = Field(
        default=None, description="For `install` and `open` events of an app: the device."
    )
    install_referrer: str | None = Field(
        default=None,
        max_length=1000,
        description="For Android installs: the Play Install Referrer string (`rk_click=…`).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.amount is not None and self.currency is None:
            raise ValueError("amount needs a currency")
        if self.type is EventType.custom and self.name is None:
            raise ValueError("a custom event needs a name")
        if self.type is EventType.refund and self.refunded_event_id is None:
            raise ValueError("a refund needs refunded_event_id")
        return self


class EventBatch(RequestModel):
    events: list[EventCreate] = Field(min_length=1, max_length=MAX_BATCH)


class Event(ResponseModel):
    id: str = Field(examples=["evt_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    event_id: str
    type: EventType
    name: str | None
    occurred_at: datetime
    app_id: str | None
    program_id: str | None
    customer_id: str | None
    click_id: str | None
    link_id: str | None
    member_id: str | None
    referral_id: str | None
    amount: int | None
    currency: str | None
    refunded_event_id: str | None
    properties: dict[str, Any]
    attribution: dict[str, Any] | None = Field(
        description="method, click_id, link_id, member_id, model, window_days, candidates, "
        "explanation; null when nothing was attributed."
    )
    outcome: dict[str, Any] = Field(
        description="What the event did: a referral created or qualified, or why not."
    )
    livemode: bool
    created_at: datetime


class BatchItem(BaseModel):
    index: int
    status: int = Field(description="201 stored, 200 replay, 4xx refused.", examples=[201])
    event: Event | None = None
    error: Problem | None = None


class BatchResult(BaseModel):
    data: list[BatchItem]
    stored: int
    replayed: int
    failed: int
