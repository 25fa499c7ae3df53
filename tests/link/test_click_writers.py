"""The PostgreSQL click writer computes reach, rollups and dimension rollups in SQL; the
portable writer computes them in Python with ``RollupBuffer`` and ``click_deltas``. Fed the same
clicks, they must store the same things."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from referkit.db.pg_direct import DirectConnections
from referkit.kit.ids import new_id
from referkit.kit.time import utcnow
from referkit.link.clicks import ClickJob, ClickWriter, PostgresClickWriter, reach_key
from referkit.models import Click, DimensionRollup, Link, Rollup
from tests.factories import Key, create_member, create_program


async def _target(app: FastAPI, client: httpx.AsyncClient, key: Key) -> dict[str, Any]:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    async with app.state.sessions(write=False) as session:
        link = await session.scalar(select(Link).where(Link.member_id == member["id"]))
    assert link is not None
    return {
        "workspace_id": link.workspace_id,
        "livemode": link.livemode,
        "link_id": link.id,
        "program_id": program["id"],
        "member_id": member["id"],
    }


_GROUP_COLUMNS = (
    "country",
    "device",
    "os",
    "browser",
    "referrer_host",
    "utm_source",
    "utm_campaign",
)


def _jobs(target: dict[str, Any]) -> list[ClickJob]:
    """Two visitors (one clicking three times), a bot, an orphan; across two days."""
    now = utcnow()
    clicks = [
        ("a", False, now),
        ("a", False, now),
        ("b", False, now),
        ("a", False, now - timedelta(days=1)),
        ("bot", True, now),
    ]
    jobs = []
    for visitor, bot, at in clicks:
        row = {
            "id": new_id("clk"),
            **target,
            "code": "x",
            "visitor_id": None,
            "visitor_hash": visitor,
            "platform": "web",
            "is_bot": bot,
            "is_orphan": False,
            "user_agent": None,
            "referer": None,
            "destination_url": "https://example.com/",
            "created_at": at,
        }
        row.update(dict.fromkeys(_GROUP_COLUMNS))
        if not bot:
            row.update(
                country={"a": "US", "b": "GB"}[visitor],
                device="mobile" if visitor == "a" else "desktop",
                os="iOS" if visitor == "a" else "Windows",
                browser="Mobile Safari" if visitor == "a" else "Chrome",
                referrer_host="t.co" if visitor == "a" else "",
                utm_source="",
                utm_campaign="spring",
            )
        mark = None if bot else reach_key(visitor, target["link_id"], at)
        jobs.append(ClickJob(row=row, reach_key=mark))
    orphan = {**jobs[0].row, "id": new_id("clk"), "is_orphan": True, "workspace_id": ""}
    orphan.update(link_id=None, program_id=None, member_id=None, livemode=None)
    jobs.append(ClickJob(row=orphan, reach_key=None))
    return jobs


async def _stored(app: FastAPI, target: dict[str, Any]) -> tuple[list[Any], list[Any], list[Any]]:
    ids = {target["program_id"]: "P", target["member_id"]: "M", target["link_id"]: "L"}
    async with app.state.sessions(write=False) as session:
        rollups = await session.scalars(
            select(Rollup).where(Rollup.program_id == target["program_id"])
        )
        counted = sorted(
            (r.scope, ids[r.scope_id], r.day, r.clicks, r.bot_clicks, r.reach) for r in rollups
        )
        clicks = await session.scalars(
            select(Click).where(Click.link_id == target["link_id"]).order_by(Click.id)
        )
        flags = [(c.visitor_hash, c.is_bot, c.is_unique) for c in clicks]
        groups = await session.scalars(
            select(DimensionRollup).where(
                DimensionRollup.workspace_id == target["workspace_id"],
                DimensionRollup.scope_id.in_([target["program_id"], target["link_id"]]),
            )
        )
        grouped = sorted(
            (g.scope, ids[g.scope_id], g.dimension, g.day, g.value, g.clicks, g.reach)
            for g in groups
        )
    return counted, flags, grouped


async def test_rollups_match_on_both_writers(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    engine = app.state.sessions.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("the SQL writer is PostgreSQL's")
    portable, native = await _target(app, client, key), await _target(app, client, key)
    await ClickWriter(engine)(_jobs(portable))
    connections = DirectConnections(engine)
    writer = PostgresClickWriter(connections)
    try:
        await writer(_jobs(native))
        await writer(_jobs(native))  # again: the marks exist, nothing more is reach
    finally:
        await connections.close()
    await ClickWriter(engine)(_jobs(portable))
    expected, native_rows = await _stored(app, portable), await _stored(app, native)
    assert native_rows == expected
    counted, flags, grouped = expected
    assert ("link", "L", utcnow().date().isoformat(), 6, 2, 2) in counted
    today = utcnow().date().isoformat()
    # Twice each writer: visitor a clicked twice today (reach 1), b once; the bot not at all.
    assert ("link", "L", "country", today, "US", 4, 1) in grouped
    assert ("program", "P", "device", today, "desktop", 2, 1) in grouped
    assert ("link", "L", "referrer", today, "", 2, 1) in grouped
    assert len(grouped) == 2 * (12 + 7)  # today: 2 groups but one utm each; yesterday: 1
    assert sum(unique for _, _, unique in flags) == 3  # a and b today, a yesterday


pytestmark = pytest.mark.skipif(
    not os.environ.get("REFERKIT_TEST_DATABASE_URL"), reason="needs PostgreSQL"
)
