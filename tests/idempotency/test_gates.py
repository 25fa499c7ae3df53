"""A replay passes the same gates as any request: the IP block and the key's rate limit."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from referkit.config import Settings
from tests.conftest import running
from tests.factories import new_key

REDIS_URL = os.environ.get("REFERKIT_TEST_REDIS_URL")
STORAGES = ["memory", "redis"] if REDIS_URL else ["memory"]
PROGRAM = {"name": "Gated", "landing_url": "https://example.com/"}


def _storage(kind: str) -> dict[str, Any]:
    if kind == "redis":
        return {"redis_url": REDIS_URL, "redis_prefix": f"test-{uuid.uuid4().hex}"}
    return {}


@pytest.mark.parametrize("storage", STORAGES)
async def test_a_replay_from_a_blocked_ip_is_refused(settings: Settings, storage: str) -> None:
    async with running(settings, auth_failure_limit=2, **_storage(storage)) as (app, client):
        key = await new_key(app)
        headers = {**key.headers, "Idempotency-Key": "gated-1"}
        first = await client.post("/api/v1/programs", json=PROGRAM, headers=headers)
        assert first.status_code == 201, first.text
        bad = {"Authorization": "Bearer rk_live_" + "q" * 43}
        for _ in range(2):
            assert (await client.get("/api/v1/programs", headers=bad)).status_code == 401
        replay = await client.post("/api/v1/programs", json=PROGRAM, headers=headers)
    assert replay.status_code == 429, replay.text
    assert replay.json()["code"] == "ip_blocked"
    assert "Idempotent-Replayed" not in replay.headers
    assert int(replay.headers["Retry-After"]) > 0


@pytest.mark.parametrize("storage", STORAGES)
async def test_replays_count_against_the_rate_limit(settings: Settings, storage: str) -> None:
    async with running(settings, **_storage(storage)) as (app, client):
        key = await new_key(app, rate_limit_per_minute=3)
        headers = {**key.headers, "Idempotency-Key": "gated-2"}
        answers = [
            await client.post("/api/v1/programs", json=PROGRAM, headers=headers) for _ in range(4)
        ]
        # The refused request did not take the key: once the window frees up, it replays.
        programs = await client.get("/api/v1/programs", headers=key.headers)
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true", None]
    # Each replay is one request, counted once, with the same headers as any answer.
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    for answer in answers:
        assert answer.headers["RateLimit-Limit"] == "3"
    assert answers[3].json()["code"] == "rate_limited"
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert programs.status_code == 429


async def test_a_first_request_is_counted_once(settings: Settings) -> None:
    """The middleware's count stands for the endpoint's: a new request is not counted twice."""
    async with running(settings) as (app, client):
        key = await new_key(app, rate_limit_per_minute=5)
        created = await client.post(
            "/api/v1/programs", json=PROGRAM, headers={**key.headers, "Idempotency-Key": "once"}
        )
        plain = await client.get("/api/v1/programs", headers=key.headers)
    assert created.status_code == 201, created.text
    assert created.headers["RateLimit-Remaining"] == "4"
    assert plain.headers["RateLimit-Remaining"] == "3"
