"""The referral state machine (API.md "Referrals").

    pending ──▶ qualified ──▶ approved (final)
       │  ▲         │
       ▼  │         │
      denied ◀──────┘

Asking for ``approved`` from ``pending`` walks through ``qualified`` (so whatever happens on
qualification happens once, as Referral Rock does). Asking for the current status is a no-op.
"""

from __future__ import annotations

from enum import StrEnum

from referkit.errors import InvalidTransition
from referkit.kit.text import with_article


class ReferralStatus(StrEnum):
    pending = "pending"
    qualified = "qualified"
    approved = "approved"
    denied = "denied"


S = ReferralStatus

EDGES: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    S.pending: frozenset({S.qualified, S.denied}),
    S.qualified: frozenset({S.approved, S.denied}),
    S.denied: frozenset({S.pending}),
    S.approved: frozenset(),
}

# Targets reachable in one request through an implied intermediate status.
_THROUGH: dict[tuple[ReferralStatus, ReferralStatus], tuple[ReferralStatus, ...]] = {
    (S.pending, S.approved): (S.qualified, S.approved),
}


def plan(current: ReferralStatus, target: ReferralStatus) -> tuple[ReferralStatus, ...]:
    """The statuses to pass through, in order, to get from ``current`` to ``target``."""
    if current == target:
        return ()
    if target in EDGES[current]:
        return (target,)
    if (current, target) in _THROUGH:
        return _THROUGH[(current, target)]
    allowed = sorted(s.value for s in EDGES[current] | {t for c, t in _THROUGH if c == current})
    raise InvalidTransition(
        f"{with_article(current.value, capital=True)} referral cannot become {target.value}; "
        f"allowed: {', '.join(allowed) or 'none (final status)'}.",
        current_status=current.value,
        requested_status=target.value,
        allowed=allowed,
    )
