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
from typing import Annotated, Any, Self, Union, get_args, get_origin

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from referkit.kit.time import as_utc

TEXT_CHECKED = {"text_checked": True}
"""Validation context of data already through ``check_text`` (nested models skip it again)."""

STORED = {"text_checked": True, "stored": True}
"""Validation context of data read back from the database, which passed every request check
on its way in: request models nested in a response (a program's settings) skip the text walk
and the JSON type checks. ``ResponseModel.model_validate`` uses it unless told otherwise."""


def check_text(value: Any) -> None:
    """ValueError for text a database cannot store, anywhere in ``value`` (JSON data)."""
    _check_text(value)


def _check_text(value: Any, path: str = "") -> None:
    # A loop over a stack, not recursion: JSON nested a thousand levels deep (which the
    # parsers accept) must end in a 422 from ``JsonObject``, not a RecursionError here.
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            _check_str(item, where)
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str):
                    _check_str(key, where)
                stack.append((child, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))


def _check_str(value: str, path: str) -> None:
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


@lru_cache(maxsize=8192)
def _email(value: str) -> str:
    # What ``EmailStr`` answers (the normalised address, or its validation error), remembered:
    # email-validator's checks are most of the work of validating a member's body, and a
    # referrer dashboard sends the same address on every page view.
    return validate_email(value)[1]


Email = Annotated[
    str, AfterValidator(_email), WithJsonSchema({"type": "string", "format": "email"})
]
"""pydantic's ``EmailStr`` (the same checks, errors and schema), its answers remembered."""


_WHOLE_NUMBER = re.compile(r"\s*[+-]?\d+\s*")


def _whole_number_text(value: Any) -> Any:
    # pydantic reads "2.0" as 2; a query parameter documented as an integer takes digits only.
    if isinstance(value, str) and not _WHOLE_NUMBER.fullmatch(value):
        raise PydanticCustomError(
            "int_parsing", "Input should be a valid integer, unable to parse string as an integer"
        )
    return value


WholeNumber = BeforeValidator(_whole_number_text)
"""Marks an integer query parameter (``Annotated[int, Ge(1), WholeNumber, Query()]``): digits
only, so ``?offset=0.0`` is a 422 as ``?offset=0.5`` is. Bounds go before it (``Ge``, ``Le``),
not in ``Query()``, so the OpenAPI document keeps them as ``minimum`` and ``maximum``."""


MAX_JSON_DEPTH = 32
"""How deep free-form JSON (event ``properties``, member ``metadata``) may nest: the object
itself is level 1. Far below the encoders' recursion limits (orjson: 254), so whatever is
stored can be answered again."""


def json_depth(value: Any) -> int:
    """Nesting depth of JSON data (a scalar is 0, ``{}`` and ``[]`` are 1), without recursion;
    stops counting just past ``MAX_JSON_DEPTH``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _bounded_depth(value: dict[str, Any]) -> dict[str, Any]:
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"nests deeper than {MAX_JSON_DEPTH} levels of objects and arrays")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded_depth)]
"""A free-form JSON object, at most ``MAX_JSON_DEPTH`` levels deep (422 naming the field)."""


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


NOT_CURRENCIES = frozenset({"XXX", "XTS"})
"""ISO 4217 codes that name no money: "no currency" and the code reserved for testing."""
CURRENCIES = frozenset(currency.alpha_3 for currency in pycountry.currencies) - NOT_CURRENCIES
"""The ISO 4217 currency codes an amount may be in (funds and precious metals included)."""


def _iso_4217(code: str) -> str:
    if code not in CURRENCIES:
        raise ValueError(f"{code} is not an ISO 4217 currency code")
    return code


Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z]{3}$", to_upper=True),
    AfterValidator(_iso_4217),
    Field(description="ISO 4217 currency code (not XXX or XTS)", examples=["USD"]),
]
"""A currency code in either case, stored in upper case: three letters (pydantic's own string
validator), then one set lookup."""

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
    "max",
    "max_amount",
    "max_count",
    "max_per_member",
    "max_referrals_per_member_per_day",
    "max_referrals_per_member_per_hour",
    "milestone_count",
    "min",
    "min_amount",
    "min_count",
    "override_hold",
    "percent",
    "probabilistic_window_hours",
    "radius",
    "rate_limit_per_minute",
    "raw_detail_days",
    "reattribution_window_days",
    "same_device",
    "self_referral",
    "value",
    "version",
    "window",
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
        if info.context and info.context.get("stored"):
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

    @classmethod
    def model_validate(cls, obj: Any, *, context: Any | None = None, **options: Any) -> Self:
        """Validate stored data (an ORM row, values read back) for a response: with the
        ``STORED`` context unless another is given."""
        return super().model_validate(
            obj, context=STORED if context is None else context, **options
        )
