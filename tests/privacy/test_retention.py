"""Retention: a workspace keeps raw click and event detail for N days; the worker's purge then
nulls it on older rows, leaves newer rows alone, and every count stays the same."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referkit.auth.principal import Scope
from referkit.config import Settings
from referkit.kit.time import utcnow
from referkit.models import Click, Event
from referkit.worker.runner import Worker
from tests.factories import Key, create_member, create_program, new_key

DAYS = 30


@dataclass
class Traffic:
    click_id: str
    event_ids: list[str]


async def _traffic(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any], member: dict[str, Any]
) -> Traffic:
    """A click with a browser and a referer, an attributed and a plain event with detail."""
    tag = uuid.uuid4().hex[:10]
    response = await client.get(
        f"/r/{member['referral_code']}",
        headers={"user-agent": f"Browser/{tag}", "referer": f"https://blog.example/{tag}"},
    )
    assert response.status_code == 302
    click_id = parse_qs(urlsplit(response.headers["location"]).query)["rk_click"][0]
    detail = {"ip": "203.0.113.9", "user_agent": f"App/{tag}", "properties": {"k": tag}}
    events = [
        {"type": "purchase", "program_id": program["id"], "click_id": click_id, "amount": 500},
        {"type": "custom", "name": "opened"},  # nothing to attribute: the intake's fast path
    ]
    ids = []
    for body in events:
        body = {"event_id": f"e-{uuid.uuid4().hex}", **detail, **body}
        if "amount" in body:
            body["currency"] = "USD"
        answer = await client.post("/api/v1/events", json=body, headers=key.headers)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return Traffic(click_id, ids)


async def _rows(app: FastAPI, traffic: Traffic) -> tuple[Click, list[Event]]:
    async with app.state.sessions.transaction(write=False) as session:
        click = await session.scalar(select(Click).where(Click.id == traffic.click_id))
        events = await session.scalars(
            select(Event).where(Event.id.in_(traffic.event_ids)).order_by(Event.id)
        )
        assert click is not None
        return click, list(events)


async def _has_detail(app: FastAPI, traffic: Traffic) -> bool | None:
    """True when every row keeps its detail, False when all lost it (None: mixed)."""
    click, events = await _rows(app, traffic)
    kept = [click.user_agent is not None, click.referer is not None]
    for event in events:
        kept += [event.ip is not None, event.user_agent is not None, bool(event.properties)]
    return True if all(kept) else False if not any(kept) else None


async def _purge(app: FastAPI, settings: Settings, at: datetime) -> None:
    worker = Worker(app.state.sessions, settings, clock=lambda: at)
    try:
        await worker.purge_raw_detail()
    finally:
        await worker.aclose()


async def _stats(client: httpx.AsyncClient, key: Key, program: dict[str, Any]) -> Any:
    answers = []
    for path in (f"/api/v1/programs/{program['id']}/stats", "/api/v1/links"):
        response = await client.get(path, headers=key.headers)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


async def _retain(client: httpx.AsyncClient, key: Key, days: int | None) -> httpx.Response:
    body = {"retention": {"raw_detail_days": days}}
    return await client.patch("/api/v1/workspace", json=body, headers=key.headers)


async def test_setting_is_read_and_validated(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    workspace = (await client.get("/api/v1/workspace", headers=key.headers)).json()
    assert workspace["retention"] == {"raw_detail_days": None, "purged_before": None}
    response = await _retain(client, key, DAYS)
    assert response.status_code == 200, response.text
    assert response.json()["retention"]["raw_detail_days"] == DAYS
    for bad in (0, -1, 10_000):
        refused = await _retain(client, key, bad)
        assert refused.status_code == 422, refused.text
    reader = await new_key(app, workspace=workspace["name"], scope=Scope.read_only)
    assert (await _retain(client, reader, 1)).status_code == 403
    # Renaming leaves retention alone; null turns it off.
    renamed = await client.patch(
        "/api/v1/workspace", json={"name": f"ws-{uuid.uuid4().hex}"}, headers=key.headers
    )
    assert renamed.json()["retention"]["raw_detail_days"] == DAYS
    assert (await _retain(client, key, None)).json()["retention"]["raw_detail_days"] is None


async def test_purge_nulls_old_detail_keeps_new_and_counts(
    app: FastAPI, client: httpx.AsyncClient, key: Key, settings: Settings
) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    assert (await _retain(client, key, DAYS)).status_code == 200
    old = await _traffic(client, key, program, member)
    await asyncio.sleep(0.02)
    boundary = utcnow()
    await asyncio.sleep(0.02)
    new = await _traffic(client, key, program, member)
    # Another workspace without a retention setting keeps everything.
    other_key = await new_key(app)
    other_program = await create_program(client, other_key)
    other = await _traffic(
        client,
        other_key,
        other_program,
        await create_member(client, other_key, other_program["id"]),
    )
    before = await _stats(client, key, program)

    await _purge(app, settings, boundary + timedelta(days=DAYS))

    assert await _has_detail(app, old) is False
    assert await _has_detail(app, new) is True
    assert await _has_detail(app, other) is True
    assert await _stats(client, key, program) == before
    click, events = await _rows(app, old)
    # Links and attribution stay: only the raw detail went.
    assert click.member_id == member["id"]
    assert events[0].click_id == old.click_id
    workspace = (await client.get("/api/v1/workspace", headers=key.headers)).json()
    purged_before = datetime.fromisoformat(workspace["retention"]["purged_before"])
    assert purged_before == boundary

    # The next run starts where this one stopped and reaches the newer rows once they age.
    await _purge(app, settings, utcnow() + timedelta(days=DAYS, seconds=1))
    assert await _has_detail(app, new) is False
    assert await _has_detail(app, other) is True
    assert await _stats(client, key, program) == before
