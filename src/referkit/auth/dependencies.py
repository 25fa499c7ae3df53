"""FastAPI dependencies: the request's principal, checked against the operation's access level.

Endpoints declare what they need with ``WritePrincipal``, ``ReadPrincipal`` or
``AnalyticsPrincipal``. The OpenAPI security schemes are declared in ``referkit.openapi``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.cache import PrincipalCache
from referkit.auth.principal import Access, Principal
from referkit.auth.service import AuthService, use_is_stale
from referkit.config import Settings
from referkit.db.session import SessionFactory, get_session, writes
from referkit.errors import InsufficientScope, InvalidApiKey, IpBlocked, RateLimited
from referkit.kit.net import client_ip
from referkit.kit.ratelimit import RateLimiter
from referkit.kit.time import utcnow

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def current_principal(
    request: Request,
    session: Session,
) -> Principal:
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.limiter
    ip = client_ip(request.scope, settings.trusted_networks)
    blocked_for = await limiter.blocked_for(ip)
    if blocked_for is not None:
        raise IpBlocked(
            f"Too many failed authentications from {ip}; retry in {blocked_for} s.",
            headers={"Retry-After": str(blocked_for)},
        )
    write = writes(request)
    authorization = request.headers.get("authorization")
    cache: PrincipalCache = request.app.state.principal_cache
    read_at = cache.generation  # before the key is read (see PrincipalCache.put)
    try:
        principal = await AuthService(session).authenticate(authorization, record_use=write)
    except InvalidApiKey:
        await limiter.record_auth_failure(ip)
        raise
    if settings.rate_limit_enabled:
        if principal.app_id is not None:
            # A client key ships inside every copy of the app: limit each device (IP), not
            # the key, so one abusive install cannot starve the others.
            await _rate_limit(
                request, limiter, principal, settings.app_client_rate_limit_per_minute, ip
            )
        else:
            await _rate_limit(request, limiter, principal, settings.rate_limit_per_minute)
    if not write and use_is_stale(principal.last_used_at):
        # A read request runs in a read transaction. On SQLite, upgrading it to write
        # last_used_at fails ("database is locked") whenever another writer got in first, so
        # end it (freeing its connection: holding two could exhaust the pool) and record the
        # use in a short write transaction of its own; the endpoint's reads start afresh.
        await session.rollback()
        sessions: SessionFactory = request.app.state.sessions
        async with sessions.transaction() as writer:
            await AuthService(writer).record_use(principal.key_id)
        principal = replace(principal, last_used_at=utcnow())
    if authorization is not None:
        cache.put(authorization, principal, read_at=read_at)
    request.state.principal = principal
    return principal


async def _rate_limit(
    request: Request,
    limiter: RateLimiter,
    principal: Principal,
    default: int,
    ip: str | None = None,
) -> None:
    if ip is None:
        decision = await limiter.hit(principal.key_id, principal.rate_limit_per_minute or default)
    else:
        decision = await limiter.hit(f"{principal.key_id}@{ip}", default)
    if decision is None:
        return  # the limiter's storage is unreachable: no limit, no headers
    request.state.rate_limit = decision  # RateLimitHeaders puts it on the response
    if not decision.allowed:
        raise RateLimited(
            f"This key may make {decision.limit} requests a minute; "
            f"retry in {max(1, decision.reset_after)} s.",
            headers={"Retry-After": str(max(1, decision.reset_after))},
        )


def _require(access: Access) -> object:
    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if not principal.allows(access):
            raise InsufficientScope(
                f"This operation needs {access.value} access; "
                f"the key's scope is {principal.scope.value}."
            )
        return principal

    return Depends(dependency)


WritePrincipal = Annotated[Principal, _require(Access.write)]
ReadPrincipal = Annotated[Principal, _require(Access.read)]
AnalyticsPrincipal = Annotated[Principal, _require(Access.analytics)]
TrackPrincipal = Annotated[Principal, _require(Access.track)]
"""Full keys and app client keys: may send events (the event service checks a client key's
app and event type)."""
