from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, Field, model_validator

from referkit.kit.codes import CUSTOM_CODE_PATTERN
from referkit.kit.net import normalize_ip
from referkit.kit.schemas import MAX_JSON_DEPTH, Email, JsonObject, RequestModel, ResponseModel
from referkit.models import Member as MemberRow


def _small_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > 50:
        raise ValueError("at most 50 keys")
    for key in value:
        if len(key) > 100:
            raise ValueError("keys are at most 100 characters")
    return value


Metadata = Annotated[
    JsonObject,
    AfterValidator(_small_metadata),
    Field(
        description=f"Your own key-value data (at most 50 keys, nested at most {MAX_JSON_DEPTH} "
        "levels).",
        examples=[{"plan": "pro"}],
    ),
]
ReferralCode = Annotated[
    str,
    Field(
        pattern=CUSTOM_CODE_PATTERN,
        description="3 to 32 letters, digits, '-' or '_'; case-insensitive and unique.",
        examples=["JANE2026"],
    ),
]
ExternalId = Annotated[
    str, Field(min_length=1, max_length=200, description="Your user id.", examples=["user_123"])
]
Name = Annotated[str, Field(max_length=200, examples=["Jane Doe"])]


def _ip_address(value: str) -> str:
    normalized = normalize_ip(value)
    if normalized is None:
        raise ValueError("must be an IPv4 or IPv6 address")
    return normalized


IpAddress = Annotated[
    str,
    Field(
        max_length=64,
        description="The referrer's own IP address (e.g. where they signed up). Used by the "
        "same-device fraud check: a referee coming from it is flagged `same_ip`. Never shown "
        "in the API.",
        examples=["81.2.69.160"],
    ),
    AfterValidator(_ip_address),
]
VisitorId = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{32}$",
        description="The referrer's own `rk_vid` cookie (32 lowercase hex digits), read from "
        "their browser. Used by the same-device fraud check: a referee with the same cookie is "
        "flagged `same_visitor`. Never shown in the API.",
        examples=["3f2a9c0e5b7d41a8b6c2e9f0a1d4c7b3"],
    ),
]


class MemberStatus(StrEnum):
    active = "active"
    disabled = "disabled"


class MemberCreate(RequestModel):
    """Create or fetch: an existing member with this external_id or email is returned as is
    (its `ip` and `visitor_id` are filled in if it had none)."""

    email: Email | None = Field(default=None, examples=["jane@example.com"])
    external_id: ExternalId | None = None
    name: Name | None = None
    referral_code: ReferralCode | None = Field(
        default=None, description="A custom code; generated (e.g. JANE7K2Q) when omitted."
    )
    metadata: Metadata = Field(default_factory=dict)
    ip: IpAddress | None = None
    visitor_id: VisitorId | None = None

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if self.email is None and self.external_id is None:
            raise ValueError("email or external_id is required")
        return self


class MemberUpdate(RequestModel):
    email: Email | None = None
    external_id: ExternalId | None = None
    name: Name | None = None
    referral_code: ReferralCode | None = None
    status: MemberStatus | None = None
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in ("referral_code", "status", "metadata"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Member(ResponseModel):
    id: str = Field(examples=["mem_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    program_id: str
    email: str | None
    external_id: str | None
    name: str | None
    referral_code: str = Field(examples=["JANE7K2Q"])
    referral_link: str = Field(examples=["http://127.0.0.1:8000/r/JANE7K2Q"])
    status: MemberStatus
    metadata: dict[str, Any]
    livemode: bool
    created_at: datetime
    updated_at: datetime


_STATUSES = {status.value: status for status in MemberStatus}
_FIELDS = frozenset(Member.model_fields)
_STORED = (
    "id",
    "program_id",
    "email",
    "external_id",
    "name",
    "referral_code",
    "status",
    "metadata_",
    "livemode",
    "created_at",
    "updated_at",
)
"""The member row's attributes its API object is made of."""


def _fields(values: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """The API object's fields from a member's stored values (by the row's attribute names)."""
    code = values["referral_code"]
    return {
        "id": values["id"],
        "program_id": values["program_id"],
        "email": values["email"],
        "external_id": values["external_id"],
        "name": values["name"],
        "referral_code": code,
        "referral_link": f"{base_url}/r/{code}",
        "status": values["status"],
        "metadata": values["metadata_"],
        "livemode": values["livemode"],
        "created_at": values["created_at"],
        "updated_at": values["updated_at"],
    }


def member_view(member: MemberRow, base_url: str) -> Member:
    """The API object for a stored member (also the ``data`` of ``member.*`` webhooks).

    A member row holds what create, update and erase stored, each value checked on its way in
    and typed by its column, so the object is assembled from the row's loaded values without
    validating them again; a row with a value not loaded (expired) is read and validated, and
    a status the API does not know fails as before.
    """
    view = stored_member_view(member.__dict__, base_url)
    return view if view is not None else _validated_view(member, base_url)


def _validated_view(member: MemberRow, base_url: str) -> Member:
    fields = _fields({name: getattr(member, name) for name in _STORED}, base_url)
    fields["status"] = MemberStatus(fields["status"])
    return Member.model_validate(fields)


def stored_member_view(values: Mapping[str, Any], base_url: str) -> Member | None:
    """``member_view`` of a member's stored values (keyed by the row's attribute names, as its
    ``__dict__``), or None when one is missing or the status is not one the API knows."""
    try:
        fields = _fields(values, base_url)
        fields["status"] = _STATUSES[fields["status"]]
    except KeyError:
        return None
    return Member.model_construct(set(_FIELDS), **fields)
