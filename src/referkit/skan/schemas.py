"""The SKAN schema document, the value answer, the postback answer and the stats section."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from referkit.kit.schemas import RequestModel

Coarse = Literal["low", "medium", "high"]
COARSE_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}


class RevenueRange(RequestModel):
    """Cumulative revenue since install in the schema's currency, minor units: ``min`` is
    inclusive, ``max`` exclusive (null: no upper bound)."""

    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=1)


class Condition(RequestModel):
    """What an install's events must add up to. ``event`` matches an event's ``name`` or its
    ``type`` (``install``, ``purchase``, ``level_complete`` …); ``min_count``/``max_count``
    bound how many such events happened since install (inclusive)."""

    event: str = Field(min_length=1, max_length=200, examples=["purchase"])
    min_count: int = Field(default=1, ge=0, le=1_000_000)
    max_count: int | None = Field(default=None, ge=0, le=1_000_000)
    revenue: RevenueRange | None = None


class FineRule(Condition):
    value: int = Field(ge=0, le=63, description="The 6-bit fine conversion value (window 1).")


class CoarseRule(Condition):
    value: Coarse


class CoarseWindows(RequestModel):
    window_1: list[CoarseRule] = Field(default_factory=list, max_length=3)
    window_2: list[CoarseRule] = Field(default_factory=list, max_length=3)
    window_3: list[CoarseRule] = Field(default_factory=list, max_length=3)


class LockRule(RequestModel):
    """Lock the window's value (``lockWindow: true``) once ``event`` happened ``min_count``
    times since install."""

    window: int = Field(ge=1, le=3)
    event: str = Field(min_length=1, max_length=200)
    min_count: int = Field(default=1, ge=1, le=1_000_000)


class SkanSchemaInput(RequestModel):
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    fine: list[FineRule] = Field(default_factory=list, max_length=64)
    coarse: CoarseWindows = Field(default_factory=CoarseWindows)
    locks: list[LockRule] = Field(default_factory=list, max_length=3)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "currency": "USD",
                    "fine": [
                        {"value": 0, "event": "install"},
                        {"value": 1, "event": "signup"},
                        {"value": 10, "event": "purchase", "revenue": {"min": 0, "max": 1000}},
                        {"value": 20, "event": "purchase", "revenue": {"min": 1000}},
                    ],
                    "coarse": {
                        "window_1": [
                            {"value": "low", "event": "install"},
                            {"value": "high", "event": "purchase"},
                        ],
                        "window_2": [{"value": "high", "event": "purchase"}],
                        "window_3": [{"value": "high", "event": "purchase", "min_count": 2}],
                    },
                    "locks": [{"window": 1, "event": "purchase"}],
                }
            ]
        }
    }


class SkanSchema(SkanSchemaInput):
    app_id: str
    version: int
    created_at: datetime


class SkanValue(BaseModel):
    """What the app passes to ``updatePostbackConversionValue(_:coarseValue:lockWindow:)``."""

    install_id: str
    window: int | None = Field(description="1, 2 or 3; null once the 35 days are over.")
    fine: int | None = Field(description="0-63 in window 1; null otherwise or when no rule hit.")
    coarse: Coarse | None
    lock: bool
    schema_version: int
    events: int = Field(description="Events of the install counted (cumulative since install).")
    revenue: int = Field(description="Revenue since install in the schema's currency.")


class PostbackStatus(StrEnum):
    stored = "stored"
    duplicate = "duplicate"


class PostbackAck(BaseModel):
    id: str
    status: PostbackStatus
    verified: bool
    verification: str
    app_id: str | None


class SkanValueCount(BaseModel):
    fine: int | None
    coarse: str | None
    postbacks: int
    range: dict[str, Any] | None = Field(
        description="The schema rule the value decodes to: event, counts, revenue range."
    )


class SkanWindowStats(BaseModel):
    window: int
    postbacks: int
    values: list[SkanValueCount]


class SkanCampaignStats(BaseModel):
    source_identifier: str | None
    installs: int
    windows: list[SkanWindowStats]


class SkanStats(BaseModel):
    """Verified, winning postbacks only; ``unverified`` counts the ones kept but not counted."""

    installs: int
    postbacks: int
    unverified: int
    campaigns: list[SkanCampaignStats]
