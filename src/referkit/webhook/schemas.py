from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, Field, model_validator

from referkit.kit.http import UnsupportedUrl, check_url
from referkit.kit.schemas import RequestModel, ResponseModel


# API.md "Webhooks": every event type a message can carry.
class EventType(StrEnum):
    program_created = "program.created"
    program_updated = "program.updated"
    program_deleted = "program.deleted"
    member_created = "member.created"
    member_updated = "member.updated"
    member_deleted = "member.deleted"
    referral_created = "referral.created"
    referral_updated = "referral.updated"
    referral_status_changed = "referral.status_changed"
    referral_deleted = "referral.deleted"
    reward_created = "reward.created"
    reward_issued = "reward.issued"
    reward_cancelled = "reward.cancelled"
    reward_reversed = "reward.reversed"
    event_attributed = "event.attributed"
    customer_erased = "customer.erased"
    webhook_test = "webhook.test"
    webhook_disabled = "webhook.disabled"


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
ALL_EVENTS = "*"


def _url(value: str) -> str:
    try:
        check_url(value)
    except UnsupportedUrl as exc:
        raise ValueError(str(exc)) from None
    return value


def _events(value: list[str]) -> list[str]:
    unknown = [v for v in value if v != ALL_EVENTS and v not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event type(s): {', '.join(unknown)}; use '*' for all")
    return list(dict.fromkeys(value))


TargetUrl = Annotated[
    str,
    Field(min_length=8, max_length=2048, examples=["https://example.com/referkit/webhooks"]),
    AfterValidator(_url),
]
EventList = Annotated[
    list[str],
    Field(
        min_length=1,
        max_length=len(EVENT_TYPES) + 1,
        description="Event types to receive; `*` for all.",
        examples=[["member.created", "referral.status_changed"]],
    ),
    AfterValidator(_events),
]


class MessageStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class WebhookEndpointCreate(RequestModel):
    url: TargetUrl
    events: EventList = Field(default_factory=lambda: [ALL_EVENTS])
    description: str | None = Field(default=None, max_length=500)
    enabled: bool = True


class WebhookEndpointUpdate(RequestModel):
    url: TargetUrl | None = None
    events: EventList | None = None
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in ("url", "events", "enabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class WebhookEndpoint(ResponseModel):
    id: str = Field(examples=["wh_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why Referkit disabled it (`gone`, `failing`), if it did."
    )
    source: str = Field(description="`api`, or `zapier` for a REST hook subscription.")
    livemode: bool
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpoint):
    secret: str = Field(
        description="The signing secret (`whsec_…`); shown only here.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookSecret(BaseModel):
    secret: str = Field(description="The new signing secret; the old one signs for 24 hours.")
    previous_secret_expires_at: datetime


class WebhookAttempt(ResponseModel):
    id: str
    attempted_at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status, if it answered.")
    duration_ms: int
    error: str | None


class WebhookMessage(BaseModel):
    id: str = Field(description="The `webhook-id` header, the same on every attempt.")
    endpoint_id: str
    event_type: str
    status: MessageStatus
    payload: dict[str, Any] = Field(description="The body sent: `{type, timestamp, data}`.")
    attempt_count: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    livemode: bool
    created_at: datetime
    attempts: list[WebhookAttempt]


class HookCreate(RequestModel):
    """A Zapier (REST Hooks) subscription."""

    target_url: TargetUrl
    event: EventType = Field(examples=["member.created"])


class Hook(BaseModel):
    id: str = Field(examples=["wh_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    target_url: str
    event: str
