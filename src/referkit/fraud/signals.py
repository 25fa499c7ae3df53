"""Fraud signals for a new referral, each with the evidence that fired it.

Pure checks over the program's settings and the referee's details, plus what the caller looked
up: a velocity count, and device fingerprints of the referee and of the referrer. Risk is the
highest severity among the signals (``low`` when none fired).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS

from referkit.kit.email import canonical_email
from referkit.kit.net import normalize_ip

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


def self_referral_signals(matched: str | None) -> list[Signal]:
    """The referee is the referrer: ``matched`` names the field (normalized email or
    external id). Reached only when the program lets self-referrals through to the checks."""
    if matched is None:
        return []
    return [
        Signal(
            "self_referral",
            "high",
            f"The referee is the referrer (same normalized {matched}).",
            {"matched": matched},
        )
    ]


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


@dataclass(frozen=True)
class Fingerprint:
    """What one source knows of a device: its IP and/or visitor id (the ``rk_vid`` cookie).

    ``source`` names where it was seen, for the evidence: ``"member"``, ``"request"``,
    ``"click clk_…"``, ``"event evt_…"``.
    """

    source: str
    ip: str | None = None
    visitor_id: str | None = None


# Addresses that name a network rather than a device: a proxy or load balancer forwarding its
# own address would otherwise make every referral look like the referrer's.
_SHARED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def device_ip(value: str | None) -> str | None:
    """The normalized IP if it can identify a device, else None (see ``_SHARED_NETWORKS``)."""
    normalized = normalize_ip(value) if value else None
    if normalized is None:
        return None
    address = ipaddress.ip_address(normalized.split("%", 1)[0])
    if (
        address.is_loopback
        or address.is_unspecified
        or address.is_link_local
        or address.is_multicast
        or any(address in network for network in _SHARED_NETWORKS)
    ):
        return None
    return normalized


def _first_match(
    referee: list[Fingerprint], referrer: list[Fingerprint], key: str
) -> tuple[str, Fingerprint, Fingerprint] | None:
    """The first (value, referee source, referrer source) sharing ``key``, in list order."""
    seen: dict[str, Fingerprint] = {}
    for fingerprint in referrer:
        value = getattr(fingerprint, key)
        if value and value not in seen:
            seen[value] = fingerprint
    for fingerprint in referee:
        value = getattr(fingerprint, key)
        if value and value in seen:
            return value, fingerprint, seen[value]
    return None


def same_device_signals(
    settings: dict[str, Any], referee: list[Fingerprint], referrer: list[Fingerprint]
) -> list[Signal]:
    """``same_visitor`` (high) and ``same_ip`` (medium): the referee's device is the referrer's.

    Fingerprints are compared as given for visitor ids and normalized for IPs; IPs of private,
    loopback and link-local networks are ignored (see ``device_ip``).
    """
    if not settings.get("same_device", True):
        return []
    found = []
    visitor = _first_match(referee, referrer, "visitor_id")
    if visitor is not None:
        value, theirs, ours = visitor
        found.append(
            Signal(
                "same_visitor",
                "high",
                "The referee used the same browser or device (visitor cookie) as the referrer.",
                {
                    "visitor_id": value,
                    "referee_source": theirs.source,
                    "referrer_source": ours.source,
                },
            )
        )
    ip = _first_match(
        [Fingerprint(p.source, ip=device_ip(p.ip)) for p in referee],
        [Fingerprint(p.source, ip=device_ip(p.ip)) for p in referrer],
        "ip",
    )
    if ip is not None:
        value, theirs, ours = ip
        found.append(
            Signal(
                "same_ip",
                "medium",
                f"The referee came from {value}, an IP address the referrer used.",
                {"ip": value, "referee_source": theirs.source, "referrer_source": ours.source},
            )
        )
    return found
