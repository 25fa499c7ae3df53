"""Referkit objects in Referral Rock's words (field names from api.referralrock.com/Help).

Pure functions from Referkit's API objects (``Member``, ``Referral``, ``Reward``, ``Program``)
to dicts with Referral Rock's field names. Money: Referral Rock sends decimal amounts
(``25.0``); Referkit stores minor units, so amounts are divided by the currency's minor unit
(and multiplied back on input, see ``to_minor``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from referkit.kit.money import decimals
from referkit.member.schemas import Member
from referkit.program.schemas import Program
from referkit.referral.schemas import Referral
from referkit.reward.schemas import Reward

# Referral Rock's reward status words (GET api/rewards `status`: Pending, Processing, Issued);
# Referkit's cancelled and reversed rewards have no Referral Rock word and keep their own.
REWARD_STATUS = {
    "pending": "Pending",
    "issued": "Issued",
    "cancelled": "Cancelled",
    "reversed": "Reversed",
}


def _scale(currency: str | None) -> int:
    if currency is None:
        return 1  # points
    return int(10 ** decimals(currency))


def to_decimal(amount: int | None, currency: str | None) -> float | None:
    if amount is None:
        return None
    return float(Decimal(amount) / _scale(currency))


def to_minor(amount: float | Decimal, currency: str | None) -> int:
    value = Decimal(str(amount)) * _scale(currency)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _dt(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def split_name(name: str | None) -> tuple[str, str]:
    first, _, last = (name or "").strip().partition(" ")
    return first, last.strip()


def join_name(first: str | None, last: str | None) -> str | None:
    name = " ".join(part.strip() for part in (first, last) if part and part.strip())
    return name or None


def _offers(program: Program) -> tuple[str, str]:
    """The program's offer texts: its reward rules' descriptions, per recipient."""
    member = [r.description for r in program.reward_rules if r.recipient == "referrer"]
    friend = [r.description for r in program.reward_rules if r.recipient == "referee"]
    return "; ".join(d for d in member if d), "; ".join(d for d in friend if d)


def program_view(program: Program) -> dict[str, Any]:
    member_offer, referral_offer = _offers(program)
    return {
        "id": program.id,
        "isActive": program.status == "active",
        "name": program.slug,
        "type": "Web",
        "title": program.name,
        "memberOffer": member_offer,
        "referralOffer": referral_offer,
        "directUrl": program.landing_url,
        "widgetUrl": "",
        "createDt": _dt(program.created_at),
    }


def member_view(
    member: Member, program: Program | None, counters: dict[str, int] | None = None
) -> dict[str, Any]:
    first, last = split_name(member.name)
    counters = counters or {}
    display = member.name or member.email or member.external_id or member.referral_code
    return {
        "id": member.id,
        "displayName": display,
        "firstName": first,
        "lastName": last,
        "email": member.email,
        "externalIdentifier": member.external_id,
        "disabledFlag": member.status == "disabled",
        "programId": member.program_id,
        "programName": program.slug if program else None,
        "programTitle": program.name if program else None,
        "referralCode": member.referral_code,
        "referralUrl": member.referral_link,
        "emailShares": 0,
        "socialShares": 0,
        "views": counters.get("clicks", 0),
        "referrals": counters.get("referrals", 0),
        "referralsQualified": counters.get("qualified_referrals", 0),
        "customFields": member.metadata,
        "createDt": _dt(member.created_at),
        "updateDt": _dt(member.updated_at),
    }


def referral_view(referral: Referral, member: Member | None) -> dict[str, Any]:
    first, last = split_name(referral.referee.name)
    return {
        "id": referral.id,
        "firstName": first,
        "lastName": last,
        "fullName": referral.referee.name,
        "email": referral.referee.email,
        "externalIdentifier": referral.referee.external_id,
        "status": referral.status.value,
        "note": referral.note,
        "programId": referral.program_id,
        "referringMemberId": referral.member_id,
        "referringMemberName": member.name if member else None,
        "referralCode": member.referral_code if member else None,
        "createDt": _dt(referral.created_at),
        "updateDt": _dt(referral.updated_at),
        "qualifiedDt": _dt(referral.qualified_at),
        "approvedDt": _dt(referral.approved_at),
        "deniedDt": _dt(referral.denied_at),
    }


def reward_view(reward: Reward, member: Member | None) -> dict[str, Any]:
    return {
        "id": reward.id,
        "programId": reward.program_id,
        "memberId": reward.member_id,
        "referralId": reward.referral_id,
        "recipientType": "Member" if reward.recipient == "referrer" else "Referral",
        "recipientName": member.name if member and reward.recipient == "referrer" else None,
        "rewardType": reward.kind.value,
        "amount": to_decimal(reward.amount, reward.currency),
        "currency": reward.currency,
        "couponCode": reward.coupon_code,
        "description": reward.description,
        "status": REWARD_STATUS[reward.status.value],
        "note": reward.note,
        "createDt": _dt(reward.created_at),
        "eligibilityDt": _dt(reward.eligible_at),
        "issueDt": _dt(reward.issued_at),
    }


def reward_rule_view(program: Program, index: int) -> dict[str, Any]:
    rule = program.reward_rules[index]
    return {
        "id": rule.id,
        "programId": program.id,
        "programName": program.slug,
        "recipient": "Member" if rule.recipient == "referrer" else "Referral",
        "trigger": rule.trigger.value,
        "rewardType": rule.kind.value,
        "amount": to_decimal(rule.amount, rule.currency),
        "percent": rule.percent,
        "currency": rule.currency,
        "holdDays": rule.hold_days,
        "description": rule.description,
    }


def envelope(
    items_name: str, items: list[dict[str, Any]], offset: int, total: int
) -> dict[str, Any]:
    """Referral Rock's list envelope (ProgramSet, MemberSet, …)."""
    return {"offset": offset, "total": total, "message": None, items_name: items}
