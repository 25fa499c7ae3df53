"""Reward arithmetic, kept pure so it can be property-tested: what a rule pays, and when.

Money is integer minor units. A percentage of a purchase rounds down (never pay a fraction of a
cent more than the rule says) and is capped by ``max_amount``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any


def rule_amount(rule: dict[str, Any], purchase_amount: int | None) -> int | None:
    """The amount a rule pays: fixed, or a percent of the qualifying purchase (capped)."""
    if rule.get("amount") is not None:
        return int(rule["amount"])
    percent = rule.get("percent")
    if percent is None:
        return None
    if purchase_amount is None or purchase_amount <= 0:
        return 0
    value = (Decimal(purchase_amount) * Decimal(str(percent)) / 100).to_integral_value(
        rounding=ROUND_FLOOR
    )
    amount = int(value)
    cap = rule.get("max_amount")
    return min(amount, int(cap)) if cap is not None else amount


def eligible_at(rule: dict[str, Any], now: datetime) -> datetime:
    return now + timedelta(days=int(rule.get("hold_days") or 0))


def dedupe_key(rule: dict[str, Any], referral_id: str | None, member_id: str) -> str:
    """One reward per rule and referral; one per rule and member for milestones."""
    if rule["trigger"] == "milestone":
        return f"{rule['id']}:{member_id}:milestone"
    return f"{rule['id']}:{referral_id}"
