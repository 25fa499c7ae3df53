"""Deeply nested JSON: refused with a 422 naming the field, never a 500; what was stored deeper
before the bound still answers; and a refused request leaves no database connection behind."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from referkit.auth.principal import Principal, Scope
from referkit.event.schemas import EventCreate, EventType
from referkit.ingest import Ingest
from referkit.kit.schemas import MAX_JSON_DEPTH, json_depth
from tests.factories import Key, create_program

JSON = {"content-type": "application/json"}


def _nested(depth: int) -> str:
    """An object ``depth`` levels deep, as text (the stdlib encoder would recurse)."""
    return '{"a":' * (depth - 1) + '{"a":1' + "}" * depth


def _nested_value(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def _chain_length(value: Any) -> int:
    """How deep a ``_nested_value`` chain goes (``json_depth`` stops past the limit)."""
    length = 0
    while isinstance(value, dict):
        value, length = value["a"], length + 1
    return length


def _event_body(depth: int, event_id: str | None = None) -> str:
    event_id = event_id or f"deep-{uuid.uuid4().hex[:12]}"
    return f'{{"event_id":"{event_id}","type":"custom","name":"x","properties":{_nested(depth)}}}'


def _fields(answer: httpx.Response) -> list[str]:
    return [error["field"] for error in answer.json()["errors"]]


def test_depth_counts_levels_without_recursion() -> None:
    assert json_depth(1) == 0
    assert json_depth({}) == 1
    assert json_depth({"a": [1, {"b": 2}]}) == 3
    assert json_depth(_nested_value(MAX_JSON_DEPTH)) == MAX_JSON_DEPTH
    assert json_depth(_nested_value(5000)) > MAX_JSON_DEPTH  # no RecursionError


@pytest.mark.parametrize("query", ["", "?via=full-stack"])
async def test_event_properties_deeper_than_the_limit_get_422(
    client: httpx.AsyncClient, key: Key, query: str
) -> None:
    headers = {**key.headers, **JSON}
    fine = await client.post(
        f"/api/v1/events{query}", content=_event_body(MAX_JSON_DEPTH), headers=headers
    )
    assert fine.status_code == 201, fine.text
    for depth in (MAX_JSON_DEPTH + 1, 253, 254, 255, 256, 600):
        answer = await client.post(
            f"/api/v1/events{query}", content=_event_body(depth), headers=headers
        )
        assert answer.status_code == 422, (depth, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert _fields(answer) == ["properties"], depth
        assert f"{MAX_JSON_DEPTH} levels" in answer.json()["detail"]
    # Past the JSON parser's own recursion limit: still a 422 (the body as a whole).
    for depth in (1020, 5000):
        answer = await client.post(
            f"/api/v1/events{query}", content=_event_body(depth), headers=headers
        )
        assert answer.status_code == 422, answer.text
        assert _fields(answer) == ["body"]


async def test_batch_item_properties_deeper_than_the_limit_get_422(
    client: httpx.AsyncClient, key: Key
) -> None:
    events = ",".join([_event_body(2), _event_body(300)])
    answer = await client.post(
        "/api/v1/events/batch", content=f'{{"events":[{events}]}}', headers={**key.headers, **JSON}
    )
    assert answer.status_code == 422, answer.text
    assert _fields(answer) == ["events.1.properties"]


async def test_member_metadata_deeper_than_the_limit_gets_422(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    path = f"/api/v1/programs/{program['id']}/members"
    headers = {**key.headers, **JSON}
    for depth in (MAX_JSON_DEPTH + 1, 256, 600):
        body = f'{{"email":"deep{depth}@example.com","metadata":{_nested(depth)}}}'
        answer = await client.post(path, content=body, headers=headers)
        assert answer.status_code == 422, (depth, answer.text)
        assert _fields(answer) == ["metadata"]
    created = await client.post(
        path,
        content=f'{{"email":"deep@example.com","metadata":{_nested(MAX_JSON_DEPTH)}}}',
        headers=headers,
    )
    assert created.status_code == 201, created.text
    patched = await client.patch(
        f"/api/v1/members/{created.json()['id']}",
        content=f'{{"metadata":{_nested(MAX_JSON_DEPTH + 1)}}}',
        headers=headers,
    )
    assert patched.status_code == 422, patched.text
    assert _fields(patched) == ["metadata"]


@pytest.mark.parametrize("depth", [253, 254, 255])
async def test_an_event_stored_deeper_than_the_limit_still_replays(
    app: FastAPI, client: httpx.AsyncClient, key: Key, depth: int
) -> None:
    """Events stored before the bound existed (through the same writer) answer every replay
    and every listing, however deep their properties."""
    event_id = f"old-{uuid.uuid4().hex[:12]}"
    principal = Principal(
        workspace_id=key.workspace_id, key_id=key.key_id, scope=Scope.full, livemode=True
    )
    old = EventCreate.model_construct(
        event_id=event_id,
        type=EventType.custom,
        name="old",
        properties=_nested_value(depth - 1),  # depth levels once inside the stored row
    )
    ingest: Ingest = app.state.ingest
    stored, created = await ingest.event(principal, old)
    assert created
    headers = {**key.headers, **JSON}
    for query in ("", "?via=full-stack"):
        replay = await client.post(
            f"/api/v1/events{query}", content=_event_body(1, event_id), headers=headers
        )
        assert replay.status_code == 200, replay.text
        assert replay.json()["id"] == stored.id
        assert _chain_length(replay.json()["properties"]) == depth - 1
    batch = await client.post(
        "/api/v1/events/batch",
        content=f'{{"events":[{_event_body(1, event_id)}]}}',
        headers=headers,
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["data"][0]["status"] == 200
    listed = await client.get("/api/v1/events", params={"limit": 5}, headers=key.headers)
    assert listed.status_code == 200, listed.text
    assert event_id in [event["event_id"] for event in listed.json()["data"]]


async def _backends(app: FastAPI) -> int | None:
    """This database's server connections, other than the one counting (PostgreSQL only)."""
    url = app.state.settings.db_url
    if not url.startswith("postgresql"):
        return None
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def test_two_hundred_bad_requests_leave_no_connection_behind(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    headers = {**key.headers, **JSON}
    # Warm up every path once (the writers open their own connections on first use).
    await client.post("/api/v1/events", content=_event_body(2), headers=headers)
    await client.post("/api/v1/events?x=1", content=_event_body(2), headers=headers)
    pool = app.state.sessions.engine.pool
    checked_out = pool.checkedout()
    backends = await _backends(app)
    bodies = [
        ("/api/v1/events", _event_body(255)),
        ("/api/v1/events?via=full-stack", _event_body(300)),
        ("/api/v1/events/batch", f'{{"events":[{_event_body(256)}]}}'),
        (f"/api/v1/programs/{program['id']}/members", f'{{"metadata":{_nested(256)}}}'),
        ("/api/v1/events", '{"event_id": "x", "type": "custom"'),
    ]
    for n in range(200):
        path, body = bodies[n % len(bodies)]
        answer = await client.post(path, content=body, headers=headers)
        assert answer.status_code == 422, answer.text
    assert pool.checkedout() == checked_out
    if backends is not None:
        assert await _backends(app) == backends
    # And the service still works.
    answer = await client.post("/api/v1/events", content=_event_body(3), headers=headers)
    assert answer.status_code == 201, answer.text
