"""``kit.schemas.Email``: pydantic's ``EmailStr`` with its answers remembered."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, EmailStr, ValidationError

from referkit.kit.schemas import Email, _email


class Reference(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    email: EmailStr | None = None


class Ours(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    email: Email | None = None


def _answer(model: type[BaseModel], value: Any) -> Any:
    try:
        return model(email=value).email  # type: ignore[call-arg]
    except ValidationError as exc:
        return exc.errors(include_url=False)


@pytest.mark.parametrize(
    "value",
    [" Jane@Example.COM ", "bad", "a@b", "x@münchen.de", "Ä@x.org", "", "a@@b.com", 5, None],
)
def test_email_answers_as_email_str(value: Any) -> None:
    assert _answer(Ours, value) == _answer(Reference, value)


def test_email_has_email_str_schema() -> None:
    assert Ours.model_json_schema() == Reference.model_json_schema() | {"title": "Ours"}


def test_a_valid_address_is_checked_once() -> None:
    _email.cache_clear()
    for _ in range(3):
        assert Ours(email="again@example.com").email == "again@example.com"
    assert _email.cache_info().hits == 2
    for _ in range(2):
        with pytest.raises(ValidationError):
            Ours(email="not-an-address")
    assert _email.cache_info().misses == 3  # a refusal is never remembered
