"""FastAPI dependencies: the request's principal, checked against the operation's access level.

Endpoints declare what they need with ``WritePrincipal``, ``ReadPrincipal`` or
``AnalyticsPrincipal``. The OpenAPI security schemes are declared in ``referkit.openapi``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Access, Principal
from referkit.auth.service import AuthService, use_is_stale
from referkit.db.session import SAFE_METHODS, SessionFactory, get_session
from referkit.errors import InsufficientScope

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def current_principal(
    request: Request,
    session: Session,
) -> Principal:
    write = request.method not in SAFE_METHODS
    principal = await AuthService(session).authenticate(
        request.headers.get("authorization"), record_use=write
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
    request.state.principal = principal
    return principal


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
