"""Rate limits, abuse blocking, body limits, HTTPS and timeouts (issue: API protection)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from referkit.config import Settings
from tests.conftest import running
from tests.factories import new_key
from tests.processes import free_port

REDIS_URL = os.environ.get("REFERKIT_TEST_REDIS_URL")
STORAGES = ["memory", "redis"] if REDIS_URL else ["memory"]


def _storage(kind: str) -> dict[str, Any]:
    if kind == "redis":
        return {"redis_url": REDIS_URL, "redis_prefix": f"test-{uuid.uuid4().hex}"}
    return {}


@pytest.mark.parametrize("storage", STORAGES)
async def test_key_limited_to_five_gets_429_on_sixth_call(settings: Settings, storage: str) -> None:
    async with running(settings, **_storage(storage)) as (app, client):
        key = await new_key(app, rate_limit_per_minute=5)
        answers = [await client.get("/api/v1/programs", headers=key.headers) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    remaining = [int(a.headers["RateLimit-Remaining"]) for a in answers]
    # Exact within one window; across a minute boundary the counter blends the two windows.
    assert remaining == sorted(remaining, reverse=True)
    assert remaining[0] == 4
    for answer in answers[:5]:
        assert answer.headers["RateLimit-Limit"] == "5"
        assert answer.headers["X-RateLimit-Limit"] == "5"
        assert answer.headers["X-RateLimit-Remaining"] == answer.headers["RateLimit-Remaining"]
        assert 0 <= int(answer.headers["RateLimit-Reset"]) <= 60
    refused = answers[5]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate_limited"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def test_limits_are_per_key(settings: Settings) -> None:
    async with running(settings) as (app, client):
        first = await new_key(app, rate_limit_per_minute=2)
        second = await new_key(app, rate_limit_per_minute=2)
        codes = [
            (await client.get("/api/v1/programs", headers=first.headers)).status_code
            for _ in range(3)
        ]
        other = await client.get("/api/v1/programs", headers=second.headers)
    assert codes == [200, 200, 429]
    assert other.status_code == 200


async def test_default_and_workspace_limits(settings: Settings) -> None:
    async with running(settings, rate_limit_per_minute=600) as (app, client):
        key = await new_key(app)
        answer = await client.get("/api/v1/workspace", headers=key.headers)
        assert answer.headers["RateLimit-Limit"] == "600"
        assert answer.json()["plan"]["rate_limit_per_minute"] == 600
        patched = await client.patch(
            "/api/v1/workspace", json={"rate_limit_per_minute": 3}, headers=key.headers
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["plan"]["rate_limit_per_minute"] == 3
        answer = await client.get("/api/v1/programs", headers=key.headers)
        assert answer.headers["RateLimit-Limit"] == "3"
        # A per-key limit wins over the workspace's.
        own = await client.patch(
            f"/api/v1/keys/{key.key_id}", json={"rate_limit_per_minute": 50}, headers=key.headers
        )
        assert own.status_code == 429 or own.json()["rate_limit_per_minute"] == 50


async def test_failed_auth_blocks_ip(settings: Settings) -> None:
    async with running(settings, auth_failure_limit=3, auth_block_seconds=900) as (app, client):
        key = await new_key(app)
        bad = {"Authorization": "Bearer rk_live_" + "x" * 43}
        codes = [(await client.get("/api/v1/programs", headers=bad)).status_code for _ in range(3)]
        blocked = await client.get("/api/v1/programs", headers=key.headers)
    assert codes == [401, 401, 401]
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "ip_blocked"
    assert 800 <= int(blocked.headers["Retry-After"]) <= 900


@pytest.mark.parametrize("storage", STORAGES)
async def test_the_block_starts_after_exactly_the_documented_failures(
    settings: Settings, storage: str
) -> None:
    """docs/api.md: "20 failures in 5 minutes block that IP" (the default setting): the 20
    failures are answered 401, the 21st request is refused whatever its credentials."""
    assert Settings.model_fields["auth_failure_limit"].default == 20
    bad = {"Authorization": "Bearer rk_live_" + "z" * 43}
    async with running(settings, **_storage(storage)) as (app, client):
        key = await new_key(app)
        codes = [(await client.get("/api/v1/programs", headers=bad)).status_code for _ in range(19)]
        assert codes == [401] * 19
        # 19 failures: not blocked yet.
        assert (await client.get("/api/v1/programs", headers=key.headers)).status_code == 200
        assert (await client.get("/api/v1/programs", headers=bad)).status_code == 401  # 20th
        blocked = await client.get("/api/v1/programs", headers=key.headers)
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "ip_blocked"


async def test_forwarded_for_is_believed_only_from_trusted_proxies(settings: Settings) -> None:
    bad = {"Authorization": "Bearer rk_live_" + "y" * 43}
    async with running(settings, auth_failure_limit=1, trusted_proxies="127.0.0.1") as (
        app,
        client,
    ):
        key = await new_key(app)
        for _ in range(2):
            await client.get("/api/v1/programs", headers={**bad, "X-Forwarded-For": "203.0.113.7"})
        # The attacker behind the proxy is blocked; another client behind it is not.
        attacker = await client.get(
            "/api/v1/programs", headers={**key.headers, "X-Forwarded-For": "203.0.113.7"}
        )
        other = await client.get(
            "/api/v1/programs", headers={**key.headers, "X-Forwarded-For": "198.51.100.9"}
        )
    assert attacker.status_code == 429
    assert other.status_code == 200
    async with running(settings, auth_failure_limit=1) as (app, client):
        key = await new_key(app)
        for _ in range(2):
            await client.get("/api/v1/programs", headers={**bad, "X-Forwarded-For": "203.0.113.7"})
        # Untrusted peer: the header is ignored, so the peer itself (127.0.0.1) was blocked.
        spoofed = await client.get(
            "/api/v1/programs", headers={**key.headers, "X-Forwarded-For": "198.51.100.9"}
        )
    assert spoofed.status_code == 429


async def test_body_limits(settings: Settings) -> None:
    async with running(settings) as (app, client):
        key = await new_key(app)
        big = {"name": "x", "landing_url": "https://example.com/", "pad": "y" * 70_000}
        too_big = await client.post("/api/v1/programs", json=big, headers=key.headers)
        assert too_big.status_code == 413
        assert too_big.json()["code"] == "payload_too_large"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(80):
                yield b" " * 1000

        streamed = await client.post(
            "/api/v1/programs",
            content=chunks(),
            headers={**key.headers, "content-type": "application/json"},
        )
        assert streamed.status_code == 413
        listed = await client.get("/api/v1/programs", headers=key.headers)
        assert listed.json()["data"] == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/programs", b'{"name": "Late", "landing_url": "https://example.com/"}'),
        ("/api/v1/events", b'{"event_id": "late-1", "type": "signup"}'),
        ("/api/v1/events/batch", b'{"events": [{"event_id": "late-2", "type": "signup"}]}'),
    ],
)
async def test_a_late_body_gets_408(settings: Settings, path: str, body: bytes) -> None:
    """In process (tests/test_body_timeout.py does it over a real socket): the full stack and
    the event intake both stop waiting for a body at the deadline."""

    async def dribble() -> AsyncIterator[bytes]:
        for index in range(len(body)):
            await asyncio.sleep(0.05)
            yield body[index : index + 1]

    async with running(settings, request_body_timeout_seconds=0.3) as (app, client):
        key = await new_key(app)
        headers = {**key.headers, "content-type": "application/json"}
        for _ in range(2):  # the second time, the intake knows the key
            late = await client.post(path, content=dribble(), headers=headers)
            assert late.status_code == 408, late.text
            assert late.headers["content-type"] == "application/problem+json"
            assert late.json()["code"] == "request_body_timeout"
            assert late.headers["connection"] == "close"
        in_time = await client.post(path, content=body, headers=headers)
    assert in_time.status_code in (200, 201), in_time.text


async def test_page_size_limit(client: httpx.AsyncClient, key: Any) -> None:
    answer = await client.get("/api/v1/programs?limit=101", headers=key.headers)
    assert answer.status_code == 422


async def test_require_https(settings: Settings) -> None:
    async with running(settings, require_https=True, trusted_proxies="127.0.0.1") as (app, client):
        key = await new_key(app)
        plain = await client.get("/api/v1/programs", headers=key.headers)
        proxied = await client.get(
            "/api/v1/programs", headers={**key.headers, "X-Forwarded-Proto": "https"}
        )
        health = await client.get("/healthz")
    assert plain.status_code == 403
    assert plain.json()["code"] == "https_required"
    assert proxied.status_code == 200
    assert "max-age" in proxied.headers["Strict-Transport-Security"]
    assert health.status_code == 200


async def test_rate_limit_off(settings: Settings) -> None:
    async with running(settings, rate_limit_enabled=False) as (app, client):
        key = await new_key(app, rate_limit_per_minute=1)
        codes = [
            (await client.get("/api/v1/programs", headers=key.headers)).status_code
            for _ in range(3)
        ]
        answer = await client.get("/api/v1/programs", headers=key.headers)
    assert codes == [200, 200, 200]
    assert "RateLimit-Limit" not in answer.headers


async def test_redirect_has_its_own_per_ip_limit(settings: Settings) -> None:
    async with running(settings, redirect_rate_limit=3) as (app, client):
        key = await new_key(app, rate_limit_per_minute=1000)
        program = await client.post(
            "/api/v1/programs",
            json={"name": "P", "landing_url": "https://example.com/"},
            headers=key.headers,
        )
        member = await client.post(
            f"/api/v1/programs/{program.json()['id']}/members",
            json={"email": "r@example.com"},
            headers=key.headers,
        )
        code = member.json()["referral_code"]
        answers = [await client.get(f"/r/{code}") for _ in range(4)]
        api = await client.get("/api/v1/programs", headers=key.headers)
    assert [a.status_code for a in answers] == [302, 302, 302, 429]
    assert answers[3].headers["Retry-After"] == "60"
    assert not any("RateLimit-Limit" in a.headers for a in answers)
    assert api.status_code == 200  # the API's own limit is separate


async def test_redirect_limit_off(settings: Settings) -> None:
    async with running(settings, redirect_rate_limit=0) as (_app, client):
        answers = [await client.get("/r/nothing-here") for _ in range(5)]
    assert {a.status_code for a in answers} == {404}


async def test_limits_fail_open_while_redis_is_unreachable(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis away must not take the API down: requests go through without limits (and
    without RateLimit headers), failed authentications are not counted, nothing is a 5xx."""
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # a port nothing listens on
    async with running(settings, redis_url=nobody) as (app, client):
        key = await new_key(app, rate_limit_per_minute=2)
        answers = [await client.get("/api/v1/programs", headers=key.headers) for _ in range(4)]
        assert [a.status_code for a in answers] == [200] * 4
        assert all("RateLimit-Limit" not in a.headers for a in answers)
        event = {"event_id": f"e-{uuid.uuid4().hex}", "type": "open"}
        stored = await client.post("/api/v1/events", json=event, headers=key.headers)
        assert stored.status_code == 201, stored.text
        wrong = {"Authorization": "Bearer rk_live_wrong"}
        assert (await client.get("/api/v1/programs", headers=wrong)).status_code == 401
    assert "rate-limit storage unreachable" in caplog.text
