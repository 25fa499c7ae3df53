"""Small keyword-only factories. Keys are made directly (as the CLI does); everything else
goes through the HTTP API, so tests exercise what clients use."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from referkit.auth.principal import Mode, Scope
from referkit.auth.service import AuthService
from referkit.db.session import SessionFactory
from referkit.workspace.service import WorkspaceService

_counter = itertools.count(1)


@dataclass(frozen=True)
class Key:
    workspace_id: str
    key_id: str
    public_key: str
    secret: str
    headers: dict[str, str] = field(default_factory=dict)


async def new_key(
    app: FastAPI,
    *,
    workspace: str | None = None,
    scope: Scope = Scope.full,
    mode: Mode = Mode.live,
    rate_limit_per_minute: int | None = None,
) -> Key:
    """A key in ``workspace`` (a fresh uniquely named workspace by default)."""
    sessions: SessionFactory = app.state.sessions
    name = workspace or f"test-{uuid.uuid4().hex[:12]}"
    async with sessions.transaction() as session:
        ws, _ = await WorkspaceService(session).get_or_create(name)
        issued = await AuthService(session).issue_key(
            ws.id,
            name="test key",
            scope=scope,
            mode=mode,
            rate_limit_per_minute=rate_limit_per_minute,
        )
    return Key(
        workspace_id=ws.id,
        key_id=issued.key.id,
        public_key=issued.key.public_key,
        secret=issued.secret,
        headers={"Authorization": f"Bearer {issued.secret}"},
    )


async def create_program(client: httpx.AsyncClient, key: Key, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Program {next(_counter)}", "landing_url": "https://example.com/signup"}
    body.update(fields)
    response = await client.post("/api/v1/programs", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def create_member(
    client: httpx.AsyncClient, key: Key, program_id: str, **fields: Any
) -> dict[str, Any]:
    body = fields or {"email": f"member{next(_counter)}@example.com", "name": "Test Member"}
    response = await client.post(
        f"/api/v1/programs/{program_id}/members", json=body, headers=key.headers
    )
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def create_referral(
    client: httpx.AsyncClient, key: Key, referral_code: str, **referee: Any
) -> dict[str, Any]:
    body = {
        "referral_code": referral_code,
        "referee": referee or {"email": f"friend{next(_counter)}@example.com", "name": "Friend"},
    }
    response = await client.post("/api/v1/referrals", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
