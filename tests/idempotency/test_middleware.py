"""Idempotency-Key: replays answer the first response and create nothing new."""

from __future__ import annotations

import asyncio

import httpx

from tests.factories import Key, create_program, new_key


async def _count_programs(client: httpx.AsyncClient, key: Key) -> int:
    answer = await client.get("/api/v1/programs?offset=0&count=100", headers=key.headers)
    total: int = answer.json()["meta"]["total"]
    return total


async def test_replay_returns_same_body_and_creates_nothing(
    client: httpx.AsyncClient, key: Key
) -> None:
    body = {"name": "Replayed", "landing_url": "https://example.com/"}
    headers = {**key.headers, "Idempotency-Key": "create-program-1"}
    first = await client.post("/api/v1/programs", json=body, headers=headers)
    second = await client.post("/api/v1/programs", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await _count_programs(client, key) == 1


async def test_replay_of_member_fetch_keeps_status(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    url = f"/api/v1/programs/{program['id']}/members"
    headers = {**key.headers, "Idempotency-Key": "member-1"}
    first = await client.post(url, json={"email": "a@example.com"}, headers=headers)
    again = await client.post(url, json={"email": "a@example.com"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]


async def test_other_body_same_key_is_refused(client: httpx.AsyncClient, key: Key) -> None:
    headers = {**key.headers, "Idempotency-Key": "k-2"}
    await client.post(
        "/api/v1/programs", json={"name": "A", "landing_url": "https://a.example/"}, headers=headers
    )
    other = await client.post(
        "/api/v1/programs", json={"name": "B", "landing_url": "https://b.example/"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert await _count_programs(client, key) == 1


async def test_keys_are_scoped_per_api_key(
    client: httpx.AsyncClient, app: object, key: Key
) -> None:
    other = await new_key(app, workspace=None)  # type: ignore[arg-type]
    body = {"name": "Same", "landing_url": "https://example.com/"}
    a = await client.post(
        "/api/v1/programs", json=body, headers={**key.headers, "Idempotency-Key": "shared"}
    )
    b = await client.post(
        "/api/v1/programs", json=body, headers={**other.headers, "Idempotency-Key": "shared"}
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


async def test_errors_other_than_5xx_are_replayed(client: httpx.AsyncClient, key: Key) -> None:
    headers = {**key.headers, "Idempotency-Key": "bad-1"}
    body = {"name": "x", "landing_url": "ftp://nope"}
    first = await client.post("/api/v1/programs", json=body, headers=headers)
    again = await client.post("/api/v1/programs", json=body, headers=headers)
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()


async def test_concurrent_same_key_creates_one(client: httpx.AsyncClient, key: Key) -> None:
    body = {"name": "Race", "landing_url": "https://example.com/"}
    headers = {**key.headers, "Idempotency-Key": "race-1"}
    answers = await asyncio.gather(
        *(client.post("/api/v1/programs", json=body, headers=headers) for _ in range(10))
    )
    codes = sorted(a.status_code for a in answers)
    assert set(codes) <= {201, 409}
    assert codes.count(201) >= 1
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["code"] == "idempotency_in_progress"
    assert await _count_programs(client, key) == 1


async def test_invalid_key_header(client: httpx.AsyncClient, key: Key) -> None:
    answer = await client.post(
        "/api/v1/programs",
        json={"name": "x", "landing_url": "https://example.com/"},
        headers={**key.headers, "Idempotency-Key": "x" * 300},
    )
    assert answer.status_code == 422


async def test_unauthenticated_passes_through_to_401(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/api/v1/programs",
        json={"name": "x", "landing_url": "https://example.com/"},
        headers={"Idempotency-Key": "anon", "Authorization": "Bearer rk_live_nope"},
    )
    assert answer.status_code == 401
