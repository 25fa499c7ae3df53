"""Fraud signals for a new referral, each with the evidence that fired it.

Pure checks over the program's settings and the referee's details, plus a velocity count the
caller supplies. Risk is the highest severity among the signals (``low`` when none fired).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS

from referkit.kit.email import canonical_email

_SEVERITY = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class Signal:
    code: str
    severity: str
    detail: str
    evidence: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "detail": self.detail,
            "evidence": self.evidence,
        }


def risk_of(signals: list[Signal]) -> str:
    worst = max((_SEVERITY[s.severity] for s in signals), default=0)
    return next(name for name, rank in _SEVERITY.items() if rank == worst)


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()


def email_signals(settings: dict[str, Any], email: str | None) -> list[Signal]:
    if not email:
        return []
    found = []
    domain = _domain(email)
    canonical = canonical_email(email)
    if settings.get("disposable_emails", True) and domain in DISPOSABLE_DOMAINS:
        found.append(
            Signal(
                "disposable_email",
                "medium",
                f"{domain} is a disposable-mail service.",
                {"domain": domain},
            )
        )
    if canonical in set(settings.get("blocked_emails") or []):
        found.append(
            Signal(
                "blocked_email",
                "high",
                "The referee's email is on the program's blocklist.",
                {"email": canonical},
            )
        )
    if domain in set(settings.get("blocked_domains") or []):
        found.append(
            Signal(
                "blocked_domain",
                "high",
                f"{domain} is on the program's domain blocklist.",
                {"domain": domain},
            )
        )
    return found


def ip_signals(settings: dict[str, Any], ip: str | None) -> list[Signal]:
    if not ip:
        return []
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return []
    for network in settings.get("blocked_ip_ranges") or []:
        if address in ipaddress.ip_network(network, strict=False):
            return [
                Signal(
                    "blocked_ip",
                    "high",
                    f"{address} is in a blocked range.",
                    {"ip": str(address), "range": network},
                )
            ]
    return []


def velocity_signals(settings: dict[str, Any], last_hour: int, last_day: int) -> list[Signal]:
    """``last_hour``/``last_day``: the member's referrals in that period, this one excluded."""
    found = []
    per_hour = settings.get("max_referrals_per_member_per_hour")
    per_day = settings.get("max_referrals_per_member_per_day")
    if per_hour is not None and last_hour + 1 > per_hour:
        found.append(
            Signal(
                "velocity",
                "medium",
                f"More than {per_hour} referrals by this member in an hour.",
                {"period": "hour", "count": last_hour + 1, "limit": per_hour},
            )
        )
    if per_day is not None and last_day + 1 > per_day:
        found.append(
            Signal(
                "velocity",
                "medium",
                f"More than {per_day} referrals by this member in a day.",
                {"period": "day", "count": last_day + 1, "limit": per_day},
            )
        )
    return found
