"""The event intake (``referkit.event.intake``): the plain case answered without the framework,
everything else by the full stack — with the same answers either way.

A request with a query string always goes to the full stack, which gives each test a reference
answer to compare the intake's with.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from referkit.auth.cache import PrincipalCache
from referkit.auth.principal import Principal, Scope
from referkit.auth.service import AuthService
from tests.factories import Key, new_key

EVENTS = "/api/v1/events"
FULL_STACK = "?via=full-stack"
VARYING = {
    "date",
    "ratelimit-remaining",
    "x-ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-reset",
}


def _eid() -> str:
    return f"e-{uuid.uuid4().hex[:12]}"


def _event(**fields: Any) -> dict[str, Any]:
    return {"event_id": _eid(), "type": "purchase", "amount": 1250, "currency": "usd", **fields}


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in VARYING}


def _shape(body: dict[str, Any]) -> dict[str, Any]:
    """An event answer without the values that differ between two events."""
    return {
        k: v for k, v in body.items() if k not in ("id", "event_id", "created_at", "occurred_at")
    }


async def _warm(client: httpx.AsyncClient, key: Key) -> None:
    """A first request through the full stack authenticates the key for the intake."""
    answer = await client.get("/api/v1/programs", headers=key.headers)
    assert answer.status_code == 200, answer.text


def _count_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Every key lookup against the database (the full stack's authentication)."""
    lookups: list[str | None] = []
    identify = AuthService.identify

    async def counting(self: AuthService, authorization: str | None) -> Any:
        lookups.append(authorization)
        return await identify(self, authorization)

    monkeypatch.setattr(AuthService, "identify", counting)
    return lookups


async def test_the_intake_answers_as_the_full_stack_does(
    client: httpx.AsyncClient, key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _warm(client, key)
    lookups = _count_lookups(monkeypatch)
    fast = await client.post(EVENTS, json=_event(), headers=key.headers)
    assert lookups == []  # answered by the intake
    full = await client.post(EVENTS + FULL_STACK, json=_event(), headers=key.headers)
    assert len(lookups) == 1
    assert fast.status_code == full.status_code == 201, (fast.text, full.text)
    assert _headers(fast) == _headers(full)
    assert _shape(fast.json()) == _shape(full.json())
    assert fast.json()["currency"] == "USD"
    assert (fast.json()["outcome"], fast.json()["attribution"]) == ({"referral": None}, None)
    assert int(fast.headers["RateLimit-Remaining"]) > int(full.headers["RateLimit-Remaining"]) - 2

    # A replay answers 200 with the first answer, from either path.
    body = _event(event_id=fast.json()["event_id"])
    for path in (EVENTS, EVENTS + FULL_STACK):
        replay = await client.post(path, json=body, headers=key.headers)
        assert replay.status_code == 200
        assert replay.json() == fast.json()


async def test_batches_answer_as_the_full_stack_does(client: httpx.AsyncClient, key: Key) -> None:
    await _warm(client, key)
    bad = {"event_id": _eid(), "type": "refund", "refunded_event_id": "no-such-purchase"}
    body = {"events": [_event(), bad, _event()]}
    fast = await client.post(EVENTS + "/batch", json=body, headers=key.headers)
    body = {"events": [_event(), bad | {"event_id": _eid()}, _event()]}
    full = await client.post(EVENTS + "/batch" + FULL_STACK, json=body, headers=key.headers)
    assert fast.status_code == full.status_code == 200
    assert _headers(fast) == _headers(full)
    for answer in (fast.json(), full.json()):
        assert (answer["stored"], answer["replayed"], answer["failed"]) == (2, 0, 1)
        assert [item["status"] for item in answer["data"]] == [201, 422, 201]
        assert answer["data"][1]["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"event_id": "x", "type": "purchase", "amount": 5}, 422, "validation_error"),
        ({"event_id": "x", "type": "teleport"}, 422, "validation_error"),
        ({"event_id": "x\u0000", "type": "open"}, 422, "validation_error"),
        ({"event_id": "x", "type": "open", "app_id": "app_unknown"}, 422, "validation_error"),
        ({"event_id": "x", "type": "open", "program_id": "prg_missing"}, 422, "validation_error"),
        ({"event_id": "x" * 70_000, "type": "open"}, 413, "payload_too_large"),
    ],
)
async def test_refusals_come_from_the_full_stack(
    client: httpx.AsyncClient, key: Key, body: dict[str, Any], status: int, code: str
) -> None:
    await _warm(client, key)
    answer = await client.post(EVENTS, json=body, headers=key.headers)
    reference = await client.post(EVENTS + FULL_STACK, json=body, headers=key.headers)
    assert answer.status_code == reference.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == reference.json()
    assert answer.json()["code"] == code


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b"{not json", 422),
        ("application/json", b'{"event_id": "x", "type": "open", "name": "\\ud800"}', 422),
        ("text/plain", b'{"event_id": "t", "type": "open"}', 422),
        ("application/x-json-ish", b'{"event_id": "t", "type": "open"}', 422),
        ("application/json; charset=utf-8", b'{"event_id": "%s", "type": "open"}', 201),
        ("application/merge+json", b'{"event_id": "%s", "type": "open"}', 201),
    ],
)
async def test_only_json_bodies_are_read(
    client: httpx.AsyncClient, key: Key, content_type: str, body: bytes, status: int
) -> None:
    await _warm(client, key)
    if b"%s" in body:
        body = body % _eid().encode()
    headers = {**key.headers, "content-type": content_type}
    answer = await client.post(EVENTS, content=body, headers=headers)
    reference = await client.post(EVENTS + FULL_STACK, content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert reference.status_code == (200 if status == 201 else status), reference.text


async def test_a_revoked_key_stops_working_at_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    workspace = f"test-{uuid.uuid4().hex[:12]}"
    key, admin = await new_key(app, workspace=workspace), await new_key(app, workspace=workspace)
    await _warm(client, key)
    assert (await client.post(EVENTS, json=_event(), headers=key.headers)).status_code == 201
    revoked = await client.delete(f"/api/v1/keys/{key.key_id}", headers=admin.headers)
    assert revoked.status_code == 204
    answer = await client.post(EVENTS, json=_event(), headers=key.headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == "invalid_api_key"


async def test_a_regenerated_secret_fails_at_once(client: httpx.AsyncClient, key: Key) -> None:
    await _warm(client, key)
    assert (await client.post(EVENTS, json=_event(), headers=key.headers)).status_code == 201
    issued = await client.post(f"/api/v1/keys/{key.key_id}/regenerate", headers=key.headers)
    assert issued.status_code == 200, issued.text
    old = await client.post(EVENTS, json=_event(), headers=key.headers)
    assert old.status_code == 401
    new = {"Authorization": f"Bearer {issued.json()['secret']}"}
    assert (await client.post(EVENTS, json=_event(), headers=new)).status_code == 201


async def test_the_key_rate_limit_holds_on_the_intake(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    key = await new_key(app, rate_limit_per_minute=4)
    answers = [await client.post(EVENTS, json=_event(), headers=key.headers) for _ in range(6)]
    assert [a.status_code for a in answers] == [201, 201, 201, 201, 429, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers[:5]] == ["3", "2", "1", "0", "0"]
    assert answers[4].json()["code"] == "rate_limited"


async def test_scopes_hold_on_the_intake(app: FastAPI, client: httpx.AsyncClient) -> None:
    key = await new_key(app, scope=Scope.read_only)
    await _warm(client, key)
    for _ in range(2):
        answer = await client.post(EVENTS, json=_event(), headers=key.headers)
        assert answer.status_code == 403
        assert answer.json()["code"] == "insufficient_scope"


async def test_idempotency_keys_still_apply(client: httpx.AsyncClient, key: Key) -> None:
    await _warm(client, key)
    headers = {**key.headers, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    body = _event()
    first = await client.post(EVENTS, json=body, headers=headers)
    second = await client.post(EVENTS, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    conflict = await client.post(EVENTS, json=_event(), headers=headers)
    assert conflict.status_code == 422


async def test_concurrent_first_requests_authenticate_once(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await new_key(app)
    lookups = _count_lookups(monkeypatch)
    answers = await asyncio.gather(
        *(client.post(EVENTS, json=_event(), headers=key.headers) for _ in range(20))
    )
    assert [a.status_code for a in answers] == [201] * 20
    assert len(lookups) == 1


async def test_plain_batches_answer_replays_with_the_first_answer(
    client: httpx.AsyncClient, key: Key
) -> None:
    """Events with nothing to attribute skip the session; replays among them still get the
    first answer, whether stored earlier or repeated within the batch."""
    await _warm(client, key)
    stored = await client.post(EVENTS, json=_event(), headers=key.headers)
    assert stored.status_code == 201
    again, fresh = _event(), _event()
    events = [fresh, _event(event_id=stored.json()["event_id"]), again, again]
    answer = await client.post(EVENTS + "/batch", json={"events": events}, headers=key.headers)
    assert answer.status_code == 200
    items = answer.json()["data"]
    assert [item["status"] for item in items] == [201, 200, 201, 200]
    assert items[1]["event"] == stored.json()
    assert items[3]["event"] == items[2]["event"]
    listed = await client.get("/api/v1/events", params={"limit": 100}, headers=key.headers)
    ids = [event["event_id"] for event in listed.json()["data"]]
    assert sorted(ids) == sorted({stored.json()["event_id"], fresh["event_id"], again["event_id"]})


async def test_every_request_counts_once_against_the_limit(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    key = await new_key(app, rate_limit_per_minute=10)
    refused_event = {"event_id": _eid(), "type": "open", "program_id": "prog_missing"}
    bodies = [_event(), {"event_id": "x", "type": "teleport"}, refused_event, _event()]
    answers = [await client.post(EVENTS, json=body, headers=key.headers) for body in bodies]
    assert [a.status_code for a in answers] == [201, 422, 422, 201]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["9", "8", "7", "6"]


async def test_two_authorization_headers_are_read_as_the_api_reads_them(
    client: httpx.AsyncClient, key: Key
) -> None:
    await _warm(client, key)
    headers = [
        ("Authorization", "Bearer rk_live_bogus"),
        ("Authorization", key.headers["Authorization"]),
    ]
    answer = await client.post(EVENTS, json=_event(), headers=headers)
    reference = await client.post(EVENTS + FULL_STACK, json=_event(), headers=headers)
    assert answer.status_code == reference.status_code == 401


async def test_a_workspace_limit_change_reaches_the_intake(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    key = await new_key(app)  # no limit of its own: the workspace's applies
    assert (await client.post(EVENTS, json=_event(), headers=key.headers)).status_code == 201
    assert (await client.post(EVENTS, json=_event(), headers=key.headers)).status_code == 201
    changed = await client.patch(
        "/api/v1/workspace", json={"rate_limit_per_minute": 3}, headers=key.headers
    )
    assert changed.status_code == 200, changed.text
    answers = [await client.post(EVENTS, json=_event(), headers=key.headers) for _ in range(3)]
    assert answers[-1].status_code == 429
    assert answers[0].headers["RateLimit-Limit"] == "3"


def test_credentials_read_before_a_revocation_are_not_cached() -> None:
    cache = PrincipalCache(ttl=60)
    principal = Principal("ws_1", "key_1", Scope.full, True)
    read_at = cache.generation  # a request reads the key...
    cache.forget({"key_1"})  # ...the key is revoked and forgotten...
    cache.put("Bearer s", principal, read_at=read_at)  # ...and the request ends
    assert cache.get(b"Bearer s") is None
    cache.put("Bearer s", principal, read_at=cache.generation)
    assert cache.get(b"Bearer s") == principal
    cache.forget(set(), {"ws_1"})  # the workspace's default limit changed
    assert cache.get(b"Bearer s") is None


async def test_an_unexpected_error_gets_the_api_500_problem(
    app: FastAPI, client: httpx.AsyncClient, key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _warm(client, key)

    async def broken(*args: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(app.state.ingest, "event", broken)
    answer = await client.post(EVENTS, json=_event(), headers=key.headers)
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "internal_error"
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_a_slow_upload_does_not_hold_other_requests_with_its_key(
    app: FastAPI, key: Key
) -> None:
    """The first request with unknown credentials authenticates for the others, but a client
    still sending its body does not make them wait beyond a short bound."""
    authorization = key.headers["Authorization"].encode()
    body_sent = asyncio.Event()

    def scope() -> dict[str, Any]:
        headers = [(b"authorization", authorization), (b"content-type", b"application/json")]
        return {
            "type": "http",
            "method": "POST",
            "path": EVENTS,
            "raw_path": EVENTS.encode(),
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("testserver", 80),
            "scheme": "http",
            "http_version": "1.1",
            "root_path": "",
        }

    def receiver(slow: bool) -> Any:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # nothing more: the client stays connected
            sent = True
            if slow:
                await body_sent.wait()
            return {"type": "http.request", "body": orjson.dumps(_event()), "more_body": False}

        return receive

    def sender(statuses: list[int]) -> Any:
        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        return send

    slow_status: list[int] = []
    quick_status: list[int] = []
    slow = asyncio.create_task(app(scope(), receiver(True), sender(slow_status)))
    await asyncio.sleep(0.05)  # the slow request is authenticating for its key
    await asyncio.wait_for(app(scope(), receiver(False), sender(quick_status)), 3)
    assert quick_status == [201]
    assert not slow.done()
    body_sent.set()
    await asyncio.wait_for(slow, 3)
    assert slow_status == [201]
