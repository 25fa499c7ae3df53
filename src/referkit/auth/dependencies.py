"""FastAPI dependencies: the request's principal, checked against the operation's access level.

Endpoints declare what they need with ``WritePrincipal``, ``ReadPrincipal`` or
``AnalyticsPrincipal``. The OpenAPI security schemes are declared in ``referkit.openapi``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Access, Principal
from referkit.auth.service import AuthService
from referkit.db.session import get_session
from referkit.errors import InsufficientScope

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def current_principal(
    request: Request,
    session: Session,
) -> Principal:
    principal = await AuthService(session).authenticate(request.headers.get("authorization"))
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
