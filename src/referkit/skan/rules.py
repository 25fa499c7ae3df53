"""Pure rules of a conversion-value schema: validation, the value an install earns, decoding.

A rule matches an install when the events named ``event`` since install number between
``min_count`` and ``max_count`` and the cumulative revenue lies in ``[revenue.min,
revenue.max)``. The value set is the highest matching value of the window (fine: 0-63,
coarse: low < medium < high). Two rules of one window on the same event whose count and
revenue ranges intersect would make a value ambiguous (an overlap); revenue ranges of one event
that leave a hole would leave installs without a value (a gap). Both are refused, naming the
rule.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from typing import Any

from referkit.skan.schemas import COARSE_ORDER, Condition, SkanSchemaInput

COARSE_VALUES = frozenset(COARSE_ORDER)

WINDOW_ENDS = (timedelta(days=2), timedelta(days=7), timedelta(days=35))
"""SKAdNetwork 4 / AdAttributionKit conversion windows: days 0-2, 3-7 and 8-35 after install."""


def window_of(elapsed: timedelta) -> int | None:
    for index, end in enumerate(WINDOW_ENDS):
        if elapsed < end:
            return index + 1
    return None


@dataclass(frozen=True)
class Tally:
    """An install's events since install: counts by event name and by type, and revenue."""

    counts: dict[str, int]
    revenue: int
    total: int


def tally(events: list[dict[str, Any]], currency: str) -> Tally:
    counts: dict[str, int] = defaultdict(int)
    revenue = 0
    for event in events:
        keys = {event["type"]} | ({event["name"]} if event.get("name") else set())
        for key in keys:
            counts[key] += 1
        if event.get("amount") and event.get("currency") == currency:
            if event["type"] == "purchase":
                revenue += int(event["amount"])
            elif event["type"] == "refund":
                revenue -= int(event["amount"])
    return Tally(counts=dict(counts), revenue=max(revenue, 0), total=len(events))


def matches(rule: Condition, seen: Tally) -> bool:
    count = seen.counts.get(rule.event, 0)
    if count < rule.min_count or (rule.max_count is not None and count > rule.max_count):
        return False
    if rule.revenue is not None:
        low, high = rule.revenue.min, rule.revenue.max
        if seen.revenue < low or (high is not None and seen.revenue >= high):
            return False
    return True


def describe(rule: Condition, currency: str) -> dict[str, Any]:
    """The decoded meaning of a value: the condition its rule stands for."""
    out: dict[str, Any] = {
        "event": rule.event,
        "count": {"min": rule.min_count, "max": rule.max_count},
        "revenue": None,
    }
    if rule.revenue is not None:
        out["revenue"] = {"min": rule.revenue.min, "max": rule.revenue.max, "currency": currency}
    return out


# --- validation -----------------------------------------------------------------------------


def _error(field: str, message: str) -> dict[str, Any]:
    """``fine[3].revenue`` in the message, ``fine.3.revenue`` as the field (as for payload
    validation errors)."""
    path = re.sub(r"\[(\d+)\]", r".\1", field)
    return {"field": path, "in": "body", "message": message, "type": "value_error"}


def _intersects(lo1: int, hi1: int | None, lo2: int, hi2: int | None) -> bool:
    """Do ``[lo1, hi1)`` and ``[lo2, hi2)`` (None: unbounded) share a point?"""
    return (hi2 is None or lo1 < hi2) and (hi1 is None or lo2 < hi1)


def _counts(rule: Condition) -> tuple[int, int | None]:
    return rule.min_count, None if rule.max_count is None else rule.max_count + 1


def _revenue(rule: Condition) -> tuple[int, int | None]:
    return (rule.revenue.min, rule.revenue.max) if rule.revenue else (0, None)


def _check_rule(name: str, rule: Condition) -> list[dict[str, Any]]:
    errors = []
    if rule.max_count is not None and rule.max_count < rule.min_count:
        errors.append(_error(f"{name}.max_count", f"{name}: max_count is below min_count"))
    if rule.revenue and rule.revenue.max is not None and rule.revenue.max <= rule.revenue.min:
        errors.append(_error(f"{name}.revenue", f"{name}: revenue max must exceed min"))
    return errors


def _check_window(prefix: str, rules: list[Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    named = [(f"{prefix}[{i}]", rule) for i, rule in enumerate(rules)]
    values: dict[Any, str] = {}
    for name, rule in named:
        errors += _check_rule(name, rule)
        if rule.value in values:
            errors.append(
                _error(
                    f"{name}.value",
                    f"{name}: value {rule.value!r} is already given by {values[rule.value]}",
                )
            )
        values.setdefault(rule.value, name)
    if errors:
        return errors
    for i, (name, rule) in enumerate(named):
        for other_name, other in named[:i]:
            if (
                rule.event == other.event
                and _intersects(*_counts(rule), *_counts(other))
                and _intersects(*_revenue(rule), *_revenue(other))
            ):
                errors.append(
                    _error(
                        name,
                        f"{name} overlaps {other_name}: both match {rule.event!r} with the "
                        "same counts and revenue, so the value would be ambiguous",
                    )
                )
    return errors + _gaps(named)


def _gaps(named: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Revenue ranges of one event must be contiguous from the lowest ``min`` up."""
    errors = []
    by_event: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for name, rule in named:
        if rule.revenue is not None:
            by_event[rule.event].append((name, rule))
    for event, rules in by_event.items():
        rules.sort(key=lambda item: item[1].revenue.min)
        for (before_name, before), (name, rule) in pairwise(rules):
            end = before.revenue.max
            if end is not None and rule.revenue.min > end:
                errors.append(
                    _error(
                        f"{name}.revenue",
                        f"{name}: revenue of {event!r} from {end} to {rule.revenue.min} matches "
                        f"no rule (a gap after {before_name})",
                    )
                )
    return errors


def validate(schema: SkanSchemaInput) -> list[dict[str, Any]]:
    """Every problem of ``schema``, each naming its rule; empty when it is sound."""
    errors = _check_window("fine", schema.fine)
    for window in (1, 2, 3):
        rules = getattr(schema.coarse, f"window_{window}")
        errors += _check_window(f"coarse.window_{window}", rules)
    seen: dict[int, str] = {}
    for i, lock in enumerate(schema.locks):
        name = f"locks[{i}]"
        if lock.window in seen:
            errors.append(
                _error(
                    f"{name}.window",
                    f"{name}: window {lock.window} is locked by {seen[lock.window]}",
                )
            )
        seen.setdefault(lock.window, name)
    return errors


# --- values ---------------------------------------------------------------------------------


def fine_value(schema: SkanSchemaInput, seen: Tally) -> int | None:
    hits = [rule.value for rule in schema.fine if matches(rule, seen)]
    return max(hits) if hits else None


def coarse_value(schema: SkanSchemaInput, window: int, seen: Tally) -> str | None:
    rules = getattr(schema.coarse, f"window_{window}")
    hits = [rule.value for rule in rules if matches(rule, seen)]
    return max(hits, key=COARSE_ORDER.__getitem__) if hits else None


def locked(schema: SkanSchemaInput, window: int, seen: Tally) -> bool:
    return any(
        lock.window == window and seen.counts.get(lock.event, 0) >= lock.min_count
        for lock in schema.locks
    )


def decode(
    schema: SkanSchemaInput, window: int, fine: int | None, coarse: str | None
) -> dict[str, Any]:
    """What a postback's values mean under ``schema``: the rule each value stands for."""
    out: dict[str, Any] = {"window": window, "fine": None, "coarse": None}
    if fine is not None:
        rule = next((r for r in schema.fine if r.value == fine), None)
        out["fine"] = {
            "value": fine,
            "range": describe(rule, schema.currency) if rule else None,
        }
    if coarse is not None:
        rules = getattr(schema.coarse, f"window_{window}")
        match = next((r for r in rules if r.value == coarse), None)
        out["coarse"] = {
            "value": coarse,
            "range": describe(match, schema.currency) if match else None,
        }
    return out
