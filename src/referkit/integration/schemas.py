"""Integration settings, the forwarding log and the dry run (API.md "Apps": integrations)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from referkit.kit.schemas import RequestModel, ResponseModel


class Network(StrEnum):
    meta = "meta"
    google_ads = "google_ads"
    tiktok = "tiktok"
    postback = "postback"


class SendMode(StrEnum):
    attributed = "attributed"
    all = "all"


class ForwardStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"


EventMap = dict[str, str]


class IntegrationUpdate(RequestModel):
    """One network's settings; omitted fields keep their stored value."""

    network: Network
    enabled: bool | None = None
    credentials: dict[str, str] | None = Field(
        default=None,
        description=(
            "Write-only secrets: meta `access_token`; google_ads `developer_token`, "
            "`access_token`; tiktok `access_token`. Stored encrypted, never answered."
        ),
        examples=[{"access_token": "EAAB…"}],
    )
    config: dict[str, str] | None = Field(
        default=None,
        description=(
            "Identifiers: meta `dataset_id`; google_ads `customer_id`, `login_customer_id?`; "
            "tiktok `tiktok_app_id`; postback `url` (a template with `{click_id}`, "
            "`{event_name}`, `{revenue}`, `{currency}`, `{install_id}`, `{network}` …)."
        ),
    )
    event_map: EventMap | None = Field(
        default=None,
        description="Our event (`install`, `purchase`, or a custom event's name) → theirs.",
        examples=[{"install": "MobileAppInstall", "purchase": "Purchase"}],
    )
    send: SendMode | None = None


class IntegrationsUpdate(RequestModel):
    data: list[IntegrationUpdate] = Field(max_length=4)


class Integration(ResponseModel):
    network: Network
    enabled: bool
    send: SendMode
    event_map: EventMap
    config: dict[str, str]
    credentials_set: list[str] = Field(
        description="Which credential fields are stored (their values are never answered)."
    )
    updated_at: datetime | None


class Integrations(BaseModel):
    data: list[Integration]


class ForwardAttempt(ResponseModel):
    id: str
    attempt: int
    attempted_at: datetime
    outcome: str = Field(description="`succeeded`, `failed` or `skipped`.")
    request: dict[str, Any] = Field(description="Method, URL, headers and body; secrets hidden.")
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None = Field(description="The network's answer (first 1,000 bytes).")


class Forward(BaseModel):
    id: str
    network: Network
    event_id: str = Field(description="Our event id (`evt_…`).")
    event_name: str = Field(description="The network's event name (after the event map).")
    status: ForwardStatus
    attempt_count: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[ForwardAttempt]


class DryRunRequest(RequestModel):
    event_id: str | None = Field(
        default=None,
        description="An event of this app (`evt_…` or your `event_id`); default a sample.",
    )


class DryRun(BaseModel):
    network: Network
    event_id: str | None
    would_send: bool
    reason: str | None
    request: dict[str, Any] | None = Field(
        description="Exactly what the worker would send (credential values hidden)."
    )
