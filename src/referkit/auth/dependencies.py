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
from referkit.auth.gate import check_ip, count_request
from referkit.auth.principal import Access, Principal
from referkit.auth.service import AuthService, use_is_stale
from referkit.config import Settings
from referkit.db.session import SessionFactory, get_session, writes
from referkit.errors import InsufficientScope, InvalidApiKey
from referkit.kit.net import client_ip
from referkit.kit.ratelimit import RateLimiter
from referkit.kit.time import utcnow

Session = Annotated[AsyncSession, Depends(get_session)]


async def current_principal(
    request: Request,
    session: Session,
) -> Principal:
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.limiter
    ip = client_ip(request.scope, settings.trusted_networks)
    await check_ip(limiter, ip)
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
        await count_request(
            limiter,
            principal,
            request.scope.setdefault("state", {}),
            per_minute=settings.rate_limit_per_minute,
            ip=ip,
            app_client_per_minute=settings.app_client_rate_limit_per_minute,
        )
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


def _require(access: Access) -> object:
    # ``current_principal`` is called, not declared as a sub-dependency: one dependency less
    # for FastAPI to solve on every request (the session is the same, cached per request).
    async def dependency(request: Request, session: Session) -> Principal:
        principal = await current_principal(request, session)
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
