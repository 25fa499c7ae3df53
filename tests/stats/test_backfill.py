"""The migration's backfill counts past clicks, referrals and purchases exactly as the live
writers count new ones (the country aside: raw addresses were never stored)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, select, update

from referkit.models import Click, DimensionRollup
from referkit.stats.backfill import backfill
from tests.factories import Key, create_member, create_program

AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36",
]


async def _rollups(app: FastAPI, workspace_id: str) -> list[tuple[Any, ...]]:
    async with app.state.sessions(write=False) as session:
        rows = await session.scalars(
            select(DimensionRollup).where(DimensionRollup.workspace_id == workspace_id)
        )
        return sorted(
            (
                r.scope,
                r.scope_id,
                r.dimension,
                r.day,
                r.value,
                r.currency,
                r.clicks,
                r.reach,
                r.signups,
                r.conversions,
                r.revenue,
            )
            for r in rows
        )


async def test_backfill_matches_the_live_writers(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    clicks = []
    for n, agent in enumerate(AGENTS * 2):
        response = await client.get(
            f"/r/{member['referral_code']}",
            headers={"user-agent": agent, "referer": f"https://site{n % 2}.example/page"},
        )
        assert response.status_code == 302
        clicks.append(parse_qs(urlsplit(response.headers["location"]).query)["rk_click"][0])
    for n, click in enumerate(clicks[:2]):
        body = {
            "event_id": f"signup-{n}",
            "type": "signup",
            "click_id": click,
            "customer": {"email": f"friend{n}@example.com"},
        }
        assert (await client.post("/api/v1/events", json=body, headers=key.headers)).is_success
    purchase = {"event_id": "buy", "type": "purchase", "click_id": clicks[2], "amount": 900}
    purchase["currency"] = "EUR"
    assert (await client.post("/api/v1/events", json=purchase, headers=key.headers)).is_success
    live = await _rollups(app, key.workspace_id)
    assert sum(row[6] for row in live if row[:3] == ("program", program["id"], "os")) == 6
    assert sum(row[8] for row in live if row[0] == "link" and row[2] == "device") == 2

    # As before the migration: no rollups, clicks without their groups.
    engine = app.state.sessions.engine
    async with engine.begin() as conn:
        await conn.execute(
            delete(DimensionRollup).where(DimensionRollup.workspace_id == key.workspace_id)
        )
        await conn.execute(
            update(Click).where(Click.workspace_id == key.workspace_id).values(device=None)
        )
    assert await _rollups(app, key.workspace_id) == []
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: backfill(sync, workspace_id=key.workspace_id))
    assert await _rollups(app, key.workspace_id) == live
    async with engine.begin() as conn:  # clicks that have their groups are not counted twice
        await conn.run_sync(lambda sync: backfill(sync, workspace_id="ws_nothing_here"))
    assert await _rollups(app, key.workspace_id) == live
