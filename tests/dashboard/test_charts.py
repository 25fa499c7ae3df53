"""The server-drawn charts: axis labels use the axis formatter, and never repeat a value."""

from __future__ import annotations

import re
from datetime import date, timedelta

from referkit.dashboard.charts import line_chart

DAYS = [date(2026, 12, 1) + timedelta(days=n) for n in range(7)]


def _labels(svg: str) -> list[str]:
    return re.findall(r'<text class="axis"[^>]*text-anchor="end">([^<]*)</text>', svg)[:-1]


def test_axis_labels_use_the_axis_format() -> None:
    svg = str(
        line_chart(
            "Rewards",
            DAYS,
            [0, 0, 0, 0, 0, 0, 12000],
            [0] * 7,
            lambda v: f"USD {v / 100:.2f}",
            lambda v: f"${v // 100}",
        )
    )
    assert _labels(svg) == ["$0", "$100", "$200"]


def test_an_axis_topping_at_one_has_no_middle_label() -> None:
    svg = str(line_chart("Clicks", DAYS, [0, 0, 1, 0, 0, 0, 0], [0] * 7))
    assert _labels(svg) == ["0", "1"]
