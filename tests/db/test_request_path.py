"""The request path's guarantees across processes: authentication reads the key on every request
(one indexed read, the workspace's limit joined in), so revocation and a workspace's new limit
hold at once in every process; a read session that writes keeps its writes in one transaction."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import func, select, text

from referkit.config import Settings
from referkit.db.session import SessionFactory
from referkit.models import Workspace
from tests.conftest import running
from tests.factories import new_key


async def test_a_key_revoked_through_one_process_is_refused_by_another_at_once(
    settings: Settings,
) -> None:
    """Two app instances on one database, no Redis: the second has just served reads with the
    key (and cached its principal) when the first revokes it; its very next read is a 401."""
    async with running(settings) as (first, first_http), running(settings) as (_, second_http):
        owner = await new_key(first)
        created = await first_http.post(
            "/api/v1/keys", json={"name": "short-lived", "scope": "full"}, headers=owner.headers
        )
        assert created.status_code == 201, created.text
        doomed = {"Authorization": f"Bearer {created.json()['secret']}"}
        for _ in range(3):
            assert (await second_http.get("/api/v1/programs", headers=doomed)).status_code == 200

        revoked = await first_http.delete(
            f"/api/v1/keys/{created.json()['id']}", headers=owner.headers
        )
        assert revoked.status_code == 204, revoked.text

        refused = await second_http.get("/api/v1/programs", headers=doomed)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "invalid_api_key"
        posted = await second_http.post(
            "/api/v1/programs",
            json={"name": "Nope", "landing_url": "https://example.com/"},
            headers=doomed,
        )
        assert posted.status_code == 401, posted.text


async def test_a_workspace_rate_limit_change_applies_to_the_next_request_everywhere(
    settings: Settings,
) -> None:
    """The key's limit falls back to the workspace's in the same read as the key itself, so a
    new workspace default is seen by every process on the next request."""
    async with running(settings) as (first, _), running(settings) as (_, second_http):
        owner = await new_key(first)
        assert (await second_http.get("/api/v1/programs", headers=owner.headers)).is_success
        sessions: SessionFactory = first.state.sessions
        async with sessions.transaction() as session:
            workspace = await session.get(Workspace, owner.workspace_id)
            assert workspace is not None
            workspace.rate_limit_per_minute = 2  # one request of it is taken
        assert (await second_http.get("/api/v1/programs", headers=owner.headers)).is_success
        limited = await second_http.get("/api/v1/programs", headers=owner.headers)
        assert limited.status_code == 429, limited.text
        assert limited.headers["x-ratelimit-limit"] == "2"


async def _workspaces_named(sessions: SessionFactory, prefix: str) -> int:
    async with sessions(write=False) as session:
        found = await session.scalar(
            select(func.count()).select_from(Workspace).where(Workspace.name.like(f"{prefix}%"))
        )
    return int(found or 0)


async def test_a_read_session_that_writes_keeps_its_writes_in_one_transaction(
    app: FastAPI,
) -> None:
    """A rollback undoes every write of a read session and a commit keeps them all."""
    sessions: SessionFactory = app.state.sessions
    prefix = f"rs-{id(app)}-"
    async with sessions(write=False) as session:
        assert await session.scalar(text("SELECT 1")) == 1
        session.add(Workspace(id=f"ws_{prefix}a", name=f"{prefix}a"))
        await session.flush()
        session.add(Workspace(id=f"ws_{prefix}b", name=f"{prefix}b"))
        await session.flush()
        await session.rollback()
    assert await _workspaces_named(sessions, prefix) == 0

    async with sessions(write=False) as session:
        session.add(Workspace(id=f"ws_{prefix}c", name=f"{prefix}c"))
        await session.flush()
        session.add(Workspace(id=f"ws_{prefix}d", name=f"{prefix}d"))
        await session.flush()
        await session.commit()
    assert await _workspaces_named(sessions, prefix) == 2
