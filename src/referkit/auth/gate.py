"""The two gates every authenticated request passes: the failed-authentication IP block and
the key's rate limit.

The auth dependency applies them to requests that reach an endpoint; the idempotency
middleware applies them to the answers it gives without the endpoint (a stored replay, a key
reused, a request in progress), so a replay is never a way around either. A request counted
here is marked in its scope state so the dependency does not count it twice.
"""

from __future__ import annotations

from typing import Any

from referkit.auth.principal import Principal
from referkit.errors import IpBlocked, RateLimited
from referkit.kit.ratelimit import Decision, RateLimiter

COUNTED = "rate_limit_counted"
"""Scope state flag: this request's rate-limit hit is already taken."""


async def check_ip(limiter: RateLimiter, ip: str) -> None:
    """IpBlocked while ``ip`` is blocked for failed authentications."""
    blocked_for = await limiter.blocked_for(ip)
    if blocked_for is not None:
        raise IpBlocked(
            f"Too many failed authentications from {ip}; retry in {blocked_for} s.",
            headers={"Retry-After": str(blocked_for)},
        )


async def count_request(
    limiter: RateLimiter,
    principal: Principal,
    state: dict[str, Any],
    *,
    per_minute: int,
    ip: str,
    app_client_per_minute: int,
) -> None:
    """Count one request of the principal's key; RateLimited past its limit. The decision is
    left in ``state`` (the request's scope state), where ``RateLimitHeaders`` finds it.

    An app's client key (``pk_app_…``) ships inside every copy of the app, so it is limited
    per device (IP), not per key: one abusive install cannot starve the others.
    """
    if state.get(COUNTED):
        return
    if principal.app_id is not None:
        decision = await limiter.hit(f"{principal.key_id}@{ip}", app_client_per_minute)
    else:
        decision = await limiter.hit(
            principal.key_id, principal.rate_limit_per_minute or per_minute
        )
    state[COUNTED] = True
    if decision is None:
        return  # the limiter's storage is unreachable: no limit, no headers
    state["rate_limit"] = decision
    refuse_if_limited(decision)


def refuse_if_limited(decision: Decision) -> None:
    if not decision.allowed:
        retry = max(1, decision.reset_after)
        raise RateLimited(
            f"This key may make {decision.limit} requests a minute; retry in {retry} s.",
            headers={"Retry-After": str(retry)},
        )
