"""The install intake (``referkit.mobile.intake``): ``POST /apps/{id}/installs`` answered
without the framework when nothing is unusual, and by the full stack otherwise — with the same
answers either way. A query string sends a request to the full stack (the reference answer).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.event.test_intake import FULL_STACK, _count_lookups, _headers, _warm
from tests.factories import Key
from tests.mobile.factories import client_key, create_app


def _install(**fields: Any) -> dict[str, Any]:
    device = {"os": "ios", "os_version": "17.4", "ip": "203.0.113.7", "idfv": uuid.uuid4().hex}
    return {"event_id": f"i-{uuid.uuid4().hex[:12]}", "device": device, **fields}


def _shape(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "install_id"}


async def test_the_install_intake_answers_as_the_full_stack_does(
    client: httpx.AsyncClient, key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    mobile = await create_app(client, key)
    url = f"/api/v1/apps/{mobile['id']}/installs"
    await _warm(client, key)
    lookups = _count_lookups(monkeypatch)
    fast = await client.post(url, json=_install(), headers=key.headers)
    assert lookups == []  # answered by the intake
    full = await client.post(url + FULL_STACK, json=_install(), headers=key.headers)
    assert len(lookups) == 1
    assert fast.status_code == full.status_code == 201, (fast.text, full.text)
    assert _headers(fast) == _headers(full)
    assert _shape(fast.json()) == _shape(full.json())
    assert fast.json()["attribution"]["method"] == "organic"

    # The same install again is the first answer (200), from either path; the same device
    # with a new install id is a reinstall.
    first = _install()
    stored = await client.post(url, json=first, headers=key.headers)
    for path in (url, url + FULL_STACK):
        replay = await client.post(path, json=first, headers=key.headers)
        assert replay.status_code == 200
        assert replay.json() == stored.json()
    again = await client.post(url, json={**first, "event_id": "other"}, headers=key.headers)
    assert again.status_code == 201
    assert again.json()["reinstall"] is True


async def test_refusals_are_the_full_stacks(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    await _warm(client, key)
    missing = "/api/v1/apps/app_00000000000000000000000000/installs"
    for path in (missing, missing + FULL_STACK):
        answer = await client.post(path, json=_install(), headers=key.headers)
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "not_found"
    # An event id used by another event: 409 from both paths.
    taken = f"e-{uuid.uuid4().hex[:8]}"
    event = {"event_id": taken, "type": "open"}
    assert (await client.post("/api/v1/events", json=event, headers=key.headers)).is_success
    url = f"/api/v1/apps/{mobile['id']}/installs"
    for path in (url, url + FULL_STACK):
        answer = await client.post(path, json=_install(event_id=taken), headers=key.headers)
        assert answer.status_code == 409, answer.text
    # Invalid bodies are the full stack's 422.
    answer = await client.post(url, json={"device": {"os": "ios", "ip": 5}}, headers=key.headers)
    assert answer.status_code == 422


async def test_a_client_key_installs_through_the_intake(
    client: httpx.AsyncClient, key: Key
) -> None:
    mobile = await create_app(client, key)
    other = await create_app(client, key)
    headers = {**await client_key(client, key, mobile["id"]), "user-agent": "RefApp/1.0"}
    url = f"/api/v1/apps/{mobile['id']}/installs"
    body = {"event_id": "from-device", "device": {"os": "ios"}}
    first = await client.post(url, json=body, headers=headers)  # authenticates the key
    assert first.status_code == 201, first.text
    second = await client.post(url, json={**body, "event_id": "again"}, headers=headers)
    assert second.status_code == 201, second.text
    events = await client.get(f"/api/v1/apps/{mobile['id']}/events", headers=key.headers)
    assert {e["event_id"] for e in events.json()["data"]} == {"from-device", "again"}
    # Another app's installs are refused (403) on both paths, nothing stored.
    url = f"/api/v1/apps/{other['id']}/installs"
    for path in (url, url + FULL_STACK):
        answer = await client.post(path, json=_install(), headers=headers)
        assert answer.status_code == 403, answer.text
