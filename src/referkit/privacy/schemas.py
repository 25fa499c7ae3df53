from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from referkit.kit.schemas import ResponseModel


class SubjectType(StrEnum):
    customer = "customer"
    member = "member"


class Erasure(ResponseModel):
    """The record of one erasure: who asked, when, what was erased (never the data)."""

    id: str = Field(examples=["ers_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    subject_type: SubjectType
    subject_id: str = Field(description="The customer or member whose data was erased.")
    key_id: str | None = Field(description="The API key that asked for it.")
    counts: dict[str, int] = Field(
        description="Rows erased or redacted, by kind.",
        examples=[{"customers": 1, "events": 3, "clicks": 2, "referrals": 1, "rewards": 1}],
    )
    livemode: bool
    created_at: datetime
