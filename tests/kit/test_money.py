"""Minor units by ISO 4217 currency: one answer for every face that shows or sends money."""

from __future__ import annotations

import pytest

from referkit.dashboard.charts import money
from referkit.embed.views import format_amount
from referkit.kit.money import decimals, to_major


@pytest.mark.parametrize(("currency", "digits"), [("USD", 2), ("jpy", 0), ("KWD", 3)])
def test_decimals(currency: str, digits: int) -> None:
    assert decimals(currency) == digits


def test_faces_agree_on_each_currency() -> None:
    assert to_major(2500, "USD") == 25.0
    assert to_major(500, "JPY") == 500
    assert to_major(1250, "KWD") == 1.25
    assert money(500, "JPY") == "JPY 500"
    assert money(-1250, "KWD") == "-KWD 1.250"
    assert format_amount(2500, "USD") == "25.00 USD"
