"""Base classes for API schemas.

``RequestModel`` rejects unknown fields (which includes server-owned ones such as ``id`` or
``created_at``) and text a database cannot store: NUL characters and lone surrogates would
otherwise surface as a driver error instead of a 422. Numbers and booleans must arrive as the
JSON types the schema documents (no ``true`` for 1, no ``"5"`` for 5).
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from datetime import datetime
from functools import lru_cache
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from referkit.kit.time import as_utc

TEXT_CHECKED = {"text_checked": True}
"""Validation context of data already through ``check_text`` (nested models skip it again)."""


def check_text(value: Any) -> None:
    """ValueError for text a database cannot store, anywhere in ``value`` (JSON data)."""
    _check_text(value)


def _check_text(value: Any, path: str = "") -> None:
    if isinstance(value, str):
        if value.isascii():  # most text: no surrogates possible, one scan for NUL
            if "\x00" in value:
                raise ValueError(f"{path or 'value'}: NUL characters are not allowed")
            return
        if "\x00" in value:
            raise ValueError(f"{path or 'value'}: NUL characters are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{path or 'value'}: text is not valid Unicode") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, path)
            _check_text(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{path}[{index}]")


def _to_utc(value: datetime) -> datetime:
    try:
        return as_utc(value)
    except OverflowError:
        # 0001-01-01T00:00+14:00 parses, but has no UTC equivalent; refuse it here, not with a 500.
        raise ValueError("is out of range once converted to UTC") from None


_ISO_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_only(value: Any) -> Any:
    # Pydantic would also take a number ("0.5") as Unix time; the API promises ISO 8601 only.
    if isinstance(value, int | float) or (
        isinstance(value, str) and not _ISO_DATE_START.match(value.strip())
    ):
        raise ValueError("must be an ISO 8601 date-time, such as 2024-06-01T12:00:00Z")
    return value


Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z]{3}$", to_upper=True),
    Field(description="ISO 4217 code", examples=["USD"]),
]
"""A currency code in either case, stored in upper case (checked and converted by pydantic's
own string validator: no Python call per value)."""

UtcDatetime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_to_utc)]
"""A datetime input in ISO 8601, converted to UTC (naive values are taken as UTC)."""


def _scalar_kinds(annotation: Any) -> set[Any]:
    """``{int}`` for ``int`` and ``int | None``; empty for containers and anything else."""
    origin = get_origin(annotation)
    if origin is None:
        return {annotation}
    if origin in (Union, UnionType):
        return {arg for arg in get_args(annotation) if arg is not NoneType}
    return set()


@lru_cache(maxsize=4096)
def _field_kinds(model: type[BaseModel], name: str) -> frozenset[Any]:
    """The scalar JSON kinds a field accepts, worked out once per model and field."""
    kinds = _scalar_kinds(model.model_fields[name].annotation)
    return frozenset(kinds) if kinds & {bool, int, float} else frozenset()


def _json_type_error(kinds: AbstractSet[Any], value: Any) -> str | None:
    # Pydantic's lax mode reads `true` as 1 and "5" as 5; the documented JSON types are binding.
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kinds == {bool} and not isinstance(value, bool):
        return "must be true or false"
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kinds == {int} and not (number and integral):
        return "must be an integer"
    if kinds == {float} and not number:
        return "must be a number"
    return None


JSON_SCALAR_FIELDS = (
    "amount",
    "auto_issue",
    "click_window_days",
    "disposable_emails",
    "enabled",
    "expires_in_seconds",
    "hold_days",
    "max_amount",
    "max_per_member",
    "max_referrals_per_member_per_day",
    "max_referrals_per_member_per_hour",
    "milestone_count",
    "min_amount",
    "override_hold",
    "percent",
    "radius",
    "probabilistic_window_hours",
    "rate_limit_per_minute",
    "reattribution_window_days",
    "same_device",
    "self_referral",
    "window_days",
    "within_days",
)
"""The names of request fields that take a JSON number or boolean, checked by ``_json_types``.
A validator on these names only, rather than on every field, spares the hot paths a Python call
per text field; ``test_every_scalar_field_is_checked`` holds the list to the models."""


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any, info: ValidationInfo) -> Any:
        # Data the caller checked as a whole (``TEXT_CHECKED``: a batch of a thousand events)
        # is not walked again for each model nested in it.
        if not (info.context and info.context.get("text_checked")):
            _check_text(data)
        return data

    @field_validator(*JSON_SCALAR_FIELDS, mode="before", check_fields=False)
    @classmethod
    def _json_types(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or info.field_name is None:
            return value
        kinds = _field_kinds(cls, info.field_name)
        if not kinds:
            return value
        error = _json_type_error(kinds, value)
        if error is not None:
            raise ValueError(error)
        return value


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
