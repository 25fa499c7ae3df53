"""Charts as SVG drawn on the server: no script, no third-party code, readable by screen
readers (each chart is an ``img`` with a title and a text summary).

A chart compares the chosen period (solid line) with the period before it (dashed), bucket by
bucket, so "is this week better than last week" is answered at a glance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from itertools import count

from markupsafe import Markup, escape

from referkit.kit.money import decimals, to_major

WIDTH, HEIGHT = 600, 200
# The left margin holds the widest axis label ("USD 2,000.00") at the chart's font size.
LEFT, RIGHT, TOP, BOTTOM = 96, 12, 12, 28
_ids = count(1)


def _points(values: Sequence[int], top: int) -> str:
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(1, len(values) - 1)
    out = []
    for index, value in enumerate(values):
        x = LEFT + index * step
        y = TOP + inner_h - (value / top) * inner_h if top else TOP + inner_h
        out.append(f"{x:.1f},{y:.1f}")
    return " ".join(out)


def _nice_top(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude


def line_chart(
    title: str,
    days: Sequence[date],
    current: Sequence[int],
    previous: Sequence[int],
    fmt: Callable[[int], str] = str,
    axis: Callable[[int], str] | None = None,
) -> Markup:
    """A two-line SVG chart of ``current`` against ``previous`` over ``days``."""
    chart_id = f"chart{next(_ids)}"
    axis = axis or fmt
    top = _nice_top(max([*current, *previous, 0]))
    summary = (
        f"{title}: {fmt(sum(current))} from {days[0]:%b %d} to {days[-1]:%b %d}, "
        f"against {fmt(sum(previous))} in the period before."
        if days
        else f"{title}: no data."
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}t {chart_id}d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}t">{escape(title)}</title>',
        f'<desc id="{chart_id}d">{escape(summary)}</desc>',
    ]
    base_y = HEIGHT - BOTTOM
    # No middle line when it would repeat a whole-number label (an axis topping at 1).
    for fraction in (0, 0.5, 1) if top >= 2 else (0, 1):
        y = TOP + (HEIGHT - TOP - BOTTOM) * (1 - fraction)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        label = escape(axis(int(top * fraction)))
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>'
        )
    if days:
        parts.append(f'<text class="axis" x="{LEFT}" y="{base_y + 18}">{days[0]:%b %d}</text>')
        parts.append(
            f'<text class="axis" x="{WIDTH - RIGHT}" y="{base_y + 18}" text-anchor="end">'
            f"{days[-1]:%b %d}</text>"
        )
        if previous:
            parts.append(f'<polyline class="previous" points="{_points(previous, top)}"/>')
        parts.append(f'<polyline class="current" points="{_points(current, top)}"/>')
    parts.append("</svg>")
    # Safe: every text part above went through escape(); the rest are numbers we formatted.
    return Markup("".join(parts))  # noqa: S704


def money(amount: int, unit: str) -> str:
    """Minor units as a readable amount (``2500, "USD"`` → ``USD 25.00``); points stay whole."""
    if unit == "points" or not unit:
        return f"{amount:,}"
    sign = "-" if amount < 0 else ""
    digits = decimals(unit)
    major = abs(amount) / 10**digits
    return f"{sign}{unit} {major:,.{digits}f}"


def short_amount(amount: int, unit: str) -> str:
    """An axis label: the amount without its unit (``250000`` USD → ``2.5k``)."""
    value = amount if unit in ("points", "") else to_major(amount, unit)
    for limit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.4g}"
