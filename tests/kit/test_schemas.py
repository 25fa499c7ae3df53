"""Request models take the documented JSON types only: no lax coercion of numbers and booleans."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

import referkit
from referkit.event.schemas import EventCreate
from referkit.kit.schemas import JSON_SCALAR_FIELDS, RequestModel, _field_kinds
from referkit.program.schemas import Fraud, RewardRuleInput


def _request_models() -> Iterator[type[RequestModel]]:
    for module in pkgutil.walk_packages(referkit.__path__, "referkit."):
        if module.name.endswith("schemas"):
            importlib.import_module(module.name)
    pending = list(RequestModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        yield model


def test_every_scalar_field_is_checked() -> None:
    scalar = {
        f"{model.__name__}.{name}"
        for model in _request_models()
        for name in model.model_fields
        if _field_kinds(model, name) and name not in JSON_SCALAR_FIELDS
    }
    assert not scalar, f"add these field names to JSON_SCALAR_FIELDS: {sorted(scalar)}"
    names = {name for model in _request_models() for name in model.model_fields}
    assert set(JSON_SCALAR_FIELDS) <= names, "JSON_SCALAR_FIELDS names a field no model has"


def _error(model: type[RequestModel], data: dict[str, object]) -> tuple[tuple[object, ...], str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    (error,) = caught.value.errors()
    return error["loc"], error["msg"]


EVENT = {"event_id": "order-1", "type": "purchase", "currency": "usd"}


@pytest.mark.parametrize("amount", ["100", True, 1.5])
def test_an_integer_field_takes_json_integers_only(amount: object) -> None:
    assert _error(EventCreate, {**EVENT, "amount": amount}) == (
        ("amount",),
        "Value error, must be an integer",
    )


def test_integral_numbers_and_text_fields_pass() -> None:
    event = EventCreate.model_validate({**EVENT, "amount": 100.0, "name": "  x  "})
    assert (event.amount, event.currency, event.name) == (100, "USD", "x")


def test_booleans_and_numbers() -> None:
    assert _error(Fraud, {"self_referral": 1}) == (
        ("self_referral",),
        "Value error, must be true or false",
    )
    rule = {"recipient": "referrer", "trigger": "referral_qualified", "kind": "cash"}
    assert _error(RewardRuleInput, {**rule, "currency": "USD", "percent": "10"}) == (
        ("percent",),
        "Value error, must be a number",
    )
    assert RewardRuleInput.model_validate({**rule, "currency": "USD", "percent": 10}).percent == 10


@pytest.mark.parametrize("code", ["XXX", "xts", "ZZZ", "AAA", "usx"])
def test_a_currency_is_an_iso_4217_code(code: str) -> None:
    loc, message = _error(EventCreate, {**EVENT, "currency": code})
    assert loc == ("currency",)
    assert "ISO 4217" in message


@pytest.mark.parametrize(("code", "stored"), [("eur", "EUR"), ("JPY", "JPY"), ("xof", "XOF")])
def test_real_currencies_pass_in_either_case(code: str, stored: str) -> None:
    assert EventCreate.model_validate({**EVENT, "currency": code}).currency == stored
