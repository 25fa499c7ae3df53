"""Integration settings through HTTP: defaults, validation, write-only credentials, SSRF checks
on postback URLs, scopes, and which events are queued (`send`, the event map)."""

from __future__ import annotations

import json
import uuid

import httpx
from fastapi import FastAPI

from referkit.auth.principal import Scope
from referkit.config import Settings
from referkit.worker.runner import Worker
from tests.conftest import running
from tests.factories import Key, new_key
from tests.forwarding.conftest import TOKEN, configure, log, purchase
from tests.forwarding.receiver import Networks
from tests.mobile.factories import create_app


async def test_every_network_is_listed_disabled_until_configured(
    client: httpx.AsyncClient, key: Key
) -> None:
    mobile = await create_app(client, key)
    response = await client.get(f"/api/v1/apps/{mobile['id']}/integrations", headers=key.headers)
    assert response.status_code == 200, response.text
    listed = response.json()["data"]
    assert [i["network"] for i in listed] == ["meta", "google_ads", "tiktok", "postback"]
    assert all(i["enabled"] is False and i["credentials_set"] == [] for i in listed)


async def test_credentials_are_write_only_kept_and_removable(
    client: httpx.AsyncClient, key: Key
) -> None:
    mobile = await create_app(client, key)
    path = f"/api/v1/apps/{mobile['id']}/integrations"
    await configure(client, key, mobile["id"], "meta", credentials={"access_token": TOKEN})
    kept = await configure(client, key, mobile["id"], "meta", event_map={"install": "X"})
    (meta,) = [i for i in kept["data"] if i["network"] == "meta"]
    assert meta["credentials_set"] == ["access_token"]
    assert meta["event_map"] == {"install": "X"}
    listed = await client.get(path, headers=key.headers)
    assert TOKEN not in listed.text
    removed = await configure(client, key, mobile["id"], "meta", credentials={"access_token": ""})
    (meta,) = [i for i in removed["data"] if i["network"] == "meta"]
    assert meta["credentials_set"] == []


async def test_unknown_fields_and_networks_are_422(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    path = f"/api/v1/apps/{mobile['id']}/integrations"
    for entry, field in (
        ({"network": "meta", "credentials": {"password": "x"}}, "data.0.credentials"),
        ({"network": "tiktok", "config": {"pixel": "x"}}, "data.0.config"),
    ):
        response = await client.put(path, json={"data": [entry]}, headers=key.headers)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    response = await client.put(path, json={"data": [{"network": "myspace"}]}, headers=key.headers)
    assert response.status_code == 422


async def test_postback_urls_are_checked_like_webhook_urls(settings: Settings) -> None:
    async with running(settings, webhook_allow_private_targets=False) as (app, client):
        key = await new_key(app)
        mobile = await create_app(client, key)
        for url in ("http://127.0.0.1:9/pb?c={click_id}", "http://169.254.169.254/x"):
            response = await client.put(
                f"/api/v1/apps/{mobile['id']}/integrations",
                json={"data": [{"network": "postback", "config": {"url": url}}]},
                headers=key.headers,
            )
            assert response.status_code == 422, response.text
            assert "private" in response.json()["detail"]


async def test_read_only_keys_cannot_configure(app: FastAPI, client: httpx.AsyncClient) -> None:
    name = f"forwarding-{uuid.uuid4().hex[:12]}"
    key = await new_key(app, workspace=name)
    mobile = await create_app(client, key)
    reader = await new_key(app, workspace=name, scope=Scope.read_only)
    path = f"/api/v1/apps/{mobile['id']}/integrations"
    assert (await client.get(path, headers=reader.headers)).status_code == 200
    response = await client.put(path, json={"data": []}, headers=reader.headers)
    assert response.status_code == 403


async def test_send_all_forwards_organic_events_and_attributed_does_not(
    client: httpx.AsyncClient, key: Key, worker: Worker, networks: Networks
) -> None:
    mobile = await create_app(client, key)
    template = networks.base + "/pb?ev={event_name}&c={click_id}"
    for send in ("attributed", "all"):
        await configure(client, key, mobile["id"], "postback", config={"url": template}, send=send)
        await purchase(client, key, mobile["id"], "evt_unknown", f"organic-{send}")
    assert await worker.run_until_idle() == 1
    (got,) = await networks.wait_for(1)
    assert got.path == "/pb?ev=purchase&c="
    (forward,) = await log(client, key, mobile["id"], "postback")
    assert forward["status"] == "succeeded"
    assert json.loads(json.dumps(forward))["event_name"] == "purchase"
