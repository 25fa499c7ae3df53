"""What is kept about clicks beyond the clicks themselves: reach marks only for the current and
previous hour, and no rollups of a deleted program."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from referkit.kit.time import utcnow
from referkit.link.clicks import reach_hour, reach_key
from referkit.link.service import LinkService
from referkit.models import ReachMark, Rollup
from tests.factories import Key, create_member, create_program


async def test_reach_marks_of_past_hours_are_purged(app: FastAPI) -> None:
    now = utcnow()
    tag = uuid.uuid4().hex
    keys = {
        hours: reach_key(f"{tag}-visitor", "lnk_x", now - timedelta(hours=hours))
        for hours in (0, 1, 2, 30)
    }
    assert keys[0].startswith(f"{reach_hour(now):08d}:")
    async with app.state.sessions.transaction() as session:
        # The same keys in two workspaces: the purge is by hour, whatever the workspace.
        session.add_all(
            ReachMark(key=key, workspace_id=workspace, created_at=now)
            for key in keys.values()
            for workspace in ("ws_a", "ws_b")
        )
    async with app.state.sessions.transaction() as session:
        # (The app's hourly housekeeping may have run its first round meanwhile.)
        await LinkService(session).purge_reach_marks(now)
    async with app.state.sessions(write=False) as session:
        left = set(
            await session.execute(
                select(ReachMark.key, ReachMark.workspace_id).where(
                    ReachMark.key.in_(keys.values())
                )
            )
        )
    assert left == {(keys[h], ws) for h in (0, 1) for ws in ("ws_a", "ws_b")}


async def test_deleting_a_program_deletes_its_rollups(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    response = await client.get(f"/r/{member['referral_code']}")
    assert response.status_code == 302

    async def rollups() -> int:
        async with app.state.sessions(write=False) as session:
            count = await session.scalar(
                select(func.count()).select_from(Rollup).where(Rollup.program_id == program["id"])
            )
            return int(count or 0)

    # Program, member and link rows for today; the member's month and all-time buckets.
    assert await rollups() == 5
    deleted = await client.delete(f"/api/v1/programs/{program['id']}", headers=key.headers)
    assert deleted.status_code == 204
    assert await rollups() == 0
