from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, Field, TypeAdapter, model_validator
from sqlalchemy import Row

from referkit.kit.schemas import STORED, Email, RequestModel, ResponseModel
from referkit.models import Referral as ReferralRow
from referkit.referral.states import ReferralStatus


class AttributionMethod(StrEnum):
    click_id = "click_id"
    cookie = "cookie"
    code = "code"
    event = "event"
    member_id = "member_id"


class RefereeInput(RequestModel):
    email: Email | None = Field(default=None, examples=["friend@example.com"])
    external_id: str | None = Field(
        default=None, min_length=1, max_length=200, examples=["user_456"]
    )
    name: str | None = Field(default=None, max_length=200, examples=["Sam Friend"])

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if self.email is None and self.external_id is None:
            raise ValueError("referee needs an email or an external_id")
        return self


class ReferralCreate(RequestModel):
    program_id: str | None = Field(default=None, max_length=40)
    referral_code: str | None = Field(
        default=None, min_length=1, max_length=40, examples=["JANE7K2Q"]
    )
    click_id: str | None = Field(default=None, min_length=1, max_length=40)
    member_id: str | None = Field(
        default=None, max_length=40, description="Credit this referrer directly."
    )
    referee: RefereeInput
    ip: str | None = Field(
        default=None,
        max_length=64,
        description="The referee's IP address; checked against `blocked_ip_ranges` and, by the "
        "same-device fraud check, against the referrer's addresses (`same_ip`).",
        examples=["81.2.69.142"],
    )
    visitor_id: str | None = Field(
        default=None,
        max_length=64,
        description="The referee's `rk_vid` cookie. Used by the same-device fraud check: the "
        "same cookie as the referrer's (member, own events, their clicks) is flagged "
        "`same_visitor`. The visitor id of the attributed click is checked too.",
        examples=["9b1e4d7a2c8f40e6a3b5d0c9e7f2a184"],
    )
    user_agent: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _has_referrer(self) -> Self:
        if not (self.referral_code or self.click_id or self.member_id):
            raise ValueError("one of referral_code, click_id or member_id is required")
        return self


class ReferralUpdate(RequestModel):
    status: ReferralStatus | None = Field(
        default=None,
        description="pending→qualified→approved, pending/qualified→denied, denied→pending.",
    )
    note: str | None = Field(default=None, max_length=2000)


class Referee(BaseModel):
    email: str | None
    external_id: str | None
    name: str | None


class ReferralAttribution(BaseModel):
    method: AttributionMethod
    click_id: str | None = None
    link_id: str | None = None
    model: str = Field(examples=["last_click"])
    window_days: int = Field(examples=[30])
    explanation: str = Field(
        examples=["Referral code JANE7K2Q (sent in the request) belongs to member mem_… ."]
    )
    candidates: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Clicks and codes considered, each with `accepted` and a `reason` if not.",
    )


class FraudRisk(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class ReferralFraud(BaseModel):
    risk: FraudRisk = FraudRisk.low
    signals: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Each signal that fired: `code`, `severity`, `detail` and `evidence` (what "
        "matched, and where it was seen).",
        examples=[
            [
                {
                    "code": "same_visitor",
                    "severity": "high",
                    "detail": "The referee used the same browser or device (visitor cookie) as "
                    "the referrer.",
                    "evidence": {
                        "visitor_id": "9b1e4d7a2c8f40e6a3b5d0c9e7f2a184",
                        "referee_source": "click clk_01jd9x4k6b8v2q3r5s7t9w1y3z",
                        "referrer_source": "member",
                    },
                }
            ]
        ],
    )


class StatusChange(BaseModel):
    status: ReferralStatus
    at: datetime
    note: str | None = None


class Referral(ResponseModel):
    id: str = Field(examples=["ref_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    program_id: str
    member_id: str
    referee: Referee
    status: ReferralStatus
    attribution: ReferralAttribution
    fraud: ReferralFraud
    note: str | None
    status_history: list[StatusChange]
    livemode: bool
    qualified_at: datetime | None
    approved_at: datetime | None
    denied_at: datetime | None
    created_at: datetime
    updated_at: datetime


SearchText = Annotated[str, Field(max_length=200)]


VIEW_COLUMNS = (
    "id",
    "program_id",
    "member_id",
    "status",
    "attribution",
    "fraud",
    "note",
    "status_history",
    "livemode",
    "qualified_at",
    "approved_at",
    "denied_at",
    "created_at",
    "updated_at",
    "referee_email",
    "referee_external_id",
    "referee_name",
)
"""The columns of a stored referral its API object shows: fields of the same names, but for
``referee``, made of the last three. A list selects only these, in this order."""


def referral_fields(row: ReferralRow | Row[Any]) -> dict[str, Any]:
    """The API object's fields of a stored referral: an ORM row, or a row of ``VIEW_COLUMNS``
    in their order (``ReferralRepository.page_views``: a Core row or a plain read's tuple)."""
    if isinstance(row, Row | tuple):
        # By position: each attribute of a Row read by name costs as much as all of these.
        values = dict(zip(VIEW_COLUMNS, row, strict=True))
    else:
        values = {name: getattr(row, name) for name in VIEW_COLUMNS}
    values["referee"] = {
        "email": values.pop("referee_email"),
        "external_id": values.pop("referee_external_id"),
        "name": values.pop("referee_name"),
    }
    return values


def referral_view(row: ReferralRow) -> Referral:
    """The API object for a stored referral (also the ``data`` of ``referral.*`` webhooks)."""
    return Referral.model_validate(referral_fields(row))


_REFERRALS = TypeAdapter(list[Referral])


def referral_views(rows: Iterable[Any]) -> list[Referral]:
    """``referral_view`` of each row (ORM rows or rows of ``VIEW_COLUMNS``), validated at once."""
    return _REFERRALS.validate_python([referral_fields(row) for row in rows], context=STORED)
