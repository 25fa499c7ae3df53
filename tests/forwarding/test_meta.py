"""Meta Conversions API: an attributed purchase reaches a loopback "Meta" in Meta's documented
shape, is retried after two 500s, and the log shows all three attempts; the dry run is the
request later sent; credentials never leave; test-mode events forward nothing."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referkit.auth.principal import Mode
from referkit.config import Settings
from referkit.integration.service import ENCRYPTION_PURPOSE, BaseUrls, IntegrationService
from referkit.models import Integration
from referkit.worker.runner import Worker
from tests.factories import Key, new_key
from tests.forwarding.conftest import (
    TOKEN,
    attributed_install,
    configure,
    log,
    purchase,
    sha256,
)
from tests.forwarding.receiver import Networks
from tests.mobile.factories import create_app
from tests.webhook.conftest import Clock

EVENT_MAP = {"purchase": "Purchase"}


async def _meta_app(client: httpx.AsyncClient, key: Key) -> str:
    mobile = await create_app(client, key)
    configured = await configure(
        client,
        key,
        mobile["id"],
        "meta",
        credentials={"access_token": TOKEN},
        config={"dataset_id": "1234567890"},
        event_map=EVENT_MAP,
    )
    assert TOKEN not in json.dumps(configured)
    (meta,) = [i for i in configured["data"] if i["network"] == "meta"]
    assert meta["credentials_set"] == ["access_token"]
    assert meta["send"] == "attributed"
    return str(mobile["id"])


async def test_attributed_purchase_is_retried_until_meta_takes_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    key: Key,
    worker: Worker,
    clock: Clock,
    networks: Networks,
) -> None:
    app_id = await _meta_app(client, key)
    install_id = await attributed_install(client, key, app_id)
    stored = await purchase(client, key, app_id, install_id, "order-1001")
    networks.then(500, 500, 200)
    for _ in range(3):
        assert await worker.run_once() == 1
        assert await worker.run_once() == 0  # not due again yet
        clock.advance(minutes=10)
    received = await networks.wait_for(3)
    assert len(received) == 3
    assert len({r.body for r in received}) == 1  # the same request each time
    got = received[-1]
    assert got.method == "POST"
    path, _, query = got.path.partition("?")
    assert path == "/v21.0/1234567890/events"
    assert query == urlencode({"access_token": TOKEN})
    body = json.loads(got.body)
    (event,) = body["data"]
    assert event["event_name"] == "Purchase"
    assert event["event_id"] == "order-1001"
    assert event["action_source"] == "app"
    assert event["event_time"] == int(datetime.fromisoformat(stored["occurred_at"]).timestamp())
    assert event["user_data"]["em"] == [sha256("ann@example.com")]
    assert event["user_data"]["external_id"] == [sha256("user-42")]
    assert event["user_data"]["client_ip_address"] == "203.0.113.9"
    assert event["custom_data"] == {"value": 25.0, "currency": "USD"}
    assert event["app_data"]["application_tracking_enabled"] == 1
    assert len(event["app_data"]["extinfo"]) == 16
    assert event["app_data"]["extinfo"][:2] == ["a2", "com.example.app"]

    (forward,) = await log(client, key, app_id, "meta")
    assert forward["event_id"] == stored["id"]
    assert forward["status"] == "succeeded"
    assert forward["attempt_count"] == 3
    assert [a["status_code"] for a in forward["attempts"]] == [500, 500, 200]
    assert [a["attempt"] for a in forward["attempts"]] == [1, 2, 3]
    assert forward["attempts"][0]["error"] == "HTTP 500"
    assert forward["attempts"][-1]["response_body"] == "{}"
    assert TOKEN not in json.dumps(forward)
    assert "[redacted]" in forward["attempts"][0]["request"]["url"]
    assert json.loads(forward["attempts"][0]["request"]["body"]) == body

    # At rest the token is sealed, not stored in clear.
    async with app.state.sessions.transaction(write=False) as session:
        sealed = await session.scalar(
            select(Integration.credentials).where(Integration.app_id == app_id)
        )
    assert sealed is not None
    assert TOKEN not in sealed


async def test_dry_run_is_the_request_later_sent_and_sends_nothing(
    client: httpx.AsyncClient, key: Key, worker: Worker, networks: Networks
) -> None:
    app_id = await _meta_app(client, key)
    install_id = await attributed_install(client, key, app_id)
    stored = await purchase(client, key, app_id, install_id, "order-2002")
    response = await client.post(
        f"/api/v1/apps/{app_id}/integrations/meta/test",
        json={"event_id": "order-2002"},
        headers=key.headers,
    )
    assert response.status_code == 200, response.text
    dry = response.json()
    assert dry["would_send"] is True
    assert dry["event_id"] == stored["id"]
    assert TOKEN not in response.text
    assert networks.received == []  # a dry run sends nothing

    assert await worker.run_once() == 1
    (got,) = await networks.wait_for(1)
    assert got.body.decode() == dry["request"]["body"]  # byte for byte
    assert dry["request"]["method"] == got.method
    redacted_url = dry["request"]["url"]
    assert redacted_url.endswith("access_token=[redacted]")
    assert networks.base + got.path.split("?")[0] == redacted_url.split("?")[0]
    for name, value in dry["request"]["headers"].items():
        assert got.headers[name] == value


async def test_install_and_purchase_share_one_request(
    client: httpx.AsyncClient, key: Key, worker: Worker, networks: Networks
) -> None:
    mobile = await create_app(client, key)
    await configure(
        client,
        key,
        mobile["id"],
        "meta",
        credentials={"access_token": TOKEN},
        config={"dataset_id": "42"},
        event_map={"install": "MobileAppInstall", "purchase": "Purchase"},
    )
    install_id = await attributed_install(client, key, mobile["id"])
    await purchase(client, key, mobile["id"], install_id, "order-3003")
    assert await worker.run_once() == 1  # Meta takes up to 1,000 events a request
    (got,) = await networks.wait_for(1)
    names = [e["event_name"] for e in json.loads(got.body)["data"]]
    assert names == ["MobileAppInstall", "Purchase"]


async def test_test_mode_purchase_forwards_nothing(
    app: FastAPI, client: httpx.AsyncClient, worker: Worker, networks: Networks
) -> None:
    test_key = await new_key(app, mode=Mode.test)
    app_id = await _meta_app(client, test_key)
    install_id = await attributed_install(client, test_key, app_id)
    await purchase(client, test_key, app_id, install_id, "order-test")
    assert await worker.run_until_idle() == 0
    assert networks.received == []
    assert await log(client, test_key, app_id, "meta") == []
    dry = await client.post(
        f"/api/v1/apps/{app_id}/integrations/meta/test",
        json={"event_id": "order-test"},
        headers=test_key.headers,
    )
    assert dry.json()["would_send"] is False
    assert dry.json()["reason"] == "test-mode events are never forwarded"


async def test_old_events_are_skipped_not_retried(
    client: httpx.AsyncClient, key: Key, worker: Worker, networks: Networks
) -> None:
    app_id = await _meta_app(client, key)
    install_id = await attributed_install(client, key, app_id)
    response = await client.post(
        "/api/v1/events",
        json={
            "event_id": "late-1",
            "type": "purchase",
            "app_id": app_id,
            "install_id": install_id,
            "amount": 100,
            "currency": "USD",
            "occurred_at": "2020-01-01T00:00:00Z",
        },
        headers=key.headers,
    )
    assert response.status_code == 201, response.text
    await worker.run_until_idle()
    assert networks.received == []
    (forward,) = await log(client, key, app_id, "meta")
    assert forward["status"] == "skipped"
    assert forward["attempts"][0]["outcome"] == "skipped"
    assert "older than meta accepts" in forward["attempts"][0]["error"]


async def test_another_workspace_sees_404(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    app_id = await _meta_app(client, key)
    other = await new_key(app)
    for method, path in (
        ("GET", f"/api/v1/apps/{app_id}/integrations"),
        ("GET", f"/api/v1/apps/{app_id}/integrations/meta/log"),
        ("POST", f"/api/v1/apps/{app_id}/integrations/meta/test"),
    ):
        response = await client.request(method, path, headers=other.headers)
        assert response.status_code == 404, (path, response.text)


async def test_a_worker_dying_after_its_claim_loses_nothing(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    key: Key,
    worker: Worker,
    clock: Clock,
    networks: Networks,
) -> None:
    app_id = await _meta_app(client, key)
    install_id = await attributed_install(client, key, app_id)
    await purchase(client, key, app_id, install_id, "order-4004")
    urls = BaseUrls(settings.meta_base_url, settings.google_ads_base_url, settings.tiktok_base_url)
    async with app.state.sessions.transaction() as session:
        box = settings.keyring.box(ENCRYPTION_PURPOSE)
        (claimed,) = await IntegrationService(session, secrets=box).claim(
            clock(), worker.lease, 10, urls
        )
    # The worker that claimed it is gone before sending: the lease keeps others off it…
    assert await worker.run_once() == 0
    clock.advance(seconds=worker.lease.total_seconds() + 1)
    # …until it runs out; then it is sent, exactly as it would have been.
    assert await worker.run_once() == 1
    (got,) = await networks.wait_for(1)
    assert claimed.request is not None
    assert got.body == claimed.request.body
    (forward,) = await log(client, key, app_id, "meta")
    assert forward["status"] == "succeeded"
    assert forward["attempt_count"] == 1
