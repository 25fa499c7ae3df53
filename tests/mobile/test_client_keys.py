"""App client keys (pk_app_…): an install, opens and in-app events of their app, nothing else,
rate-limited per IP."""

from __future__ import annotations

import httpx

from referkit.config import Settings
from tests.conftest import running
from tests.factories import Key, new_key
from tests.mobile.factories import IPHONE_UA, client_key, create_app

DEVICE = {"os": "ios", "os_version": "17.4"}


async def test_a_client_key_sends_installs_and_nothing_else(
    client: httpx.AsyncClient, key: Key
) -> None:
    mobile = await create_app(client, key)
    other = await create_app(client, key)
    headers = await client_key(client, key, mobile["id"])
    assert headers["Authorization"].startswith("Bearer pk_app_")
    install = await client.post(
        f"/api/v1/apps/{mobile['id']}/installs",
        json={"device": DEVICE},
        headers={**headers, "user-agent": IPHONE_UA},
    )
    assert install.status_code == 201, install.text
    event = await client.post(
        "/api/v1/events",
        json={
            "event_id": "e1",
            "type": "purchase",
            "app_id": mobile["id"],
            "amount": 100,
            "currency": "EUR",
        },
        headers=headers,
    )
    assert event.status_code == 201, event.text
    refused = [
        await client.get("/api/v1/apps", headers=headers),
        await client.get(f"/api/v1/apps/{mobile['id']}", headers=headers),
        await client.get(f"/api/v1/apps/{mobile['id']}/stats", headers=headers),
        await client.get(f"/api/v1/apps/{mobile['id']}/events", headers=headers),
        await client.get("/api/v1/portfolio", headers=headers),
        await client.get("/api/v1/programs", headers=headers),
        await client.post("/api/v1/apps", json={"name": "x"}, headers=headers),
        await client.post(f"/api/v1/apps/{mobile['id']}/client-keys", headers=headers),
        await client.post(
            f"/api/v1/apps/{other['id']}/installs", json={"device": DEVICE}, headers=headers
        ),
        await client.post(
            "/api/v1/events", json={"event_id": "e2", "type": "signup"}, headers=headers
        ),
        await client.post(
            "/api/v1/events",
            json={"event_id": "e3", "type": "install", "app_id": other["id"]},
            headers=headers,
        ),
        await client.post(
            "/api/v1/events",
            json={
                "event_id": "e4",
                "type": "refund",
                "app_id": mobile["id"],
                "refunded_event_id": "e1",
            },
            headers=headers,
        ),
        await client.post(
            "/api/v1/events/batch",
            json={"events": [{"event_id": "e5", "type": "open", "app_id": other["id"]}]},
            headers=headers,
        ),
    ]
    statuses = [
        r.status_code if r.status_code != 200 else r.json()["data"][0]["status"] for r in refused
    ]
    assert statuses == [403] * len(refused), [r.text for r in refused]
    assert (await client.get("/api/v1/keys", headers=key.headers)).status_code == 200


async def test_the_install_takes_the_devices_address(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    headers = await client_key(client, key, mobile["id"])
    install = await client.post(
        f"/api/v1/apps/{mobile['id']}/installs",
        json={"device": DEVICE},
        headers={**headers, "user-agent": IPHONE_UA},
    )
    events = await client.get(f"/api/v1/apps/{mobile['id']}/events", headers=key.headers)
    (event,) = events.json()["data"]
    assert event["id"] == install.json()["install_id"]


async def test_other_workspaces_cannot_make_client_keys(
    app: object, client: httpx.AsyncClient, key: Key
) -> None:
    mobile = await create_app(client, key)
    stranger = await new_key(app)  # type: ignore[arg-type]
    response = await client.post(
        f"/api/v1/apps/{mobile['id']}/client-keys", headers=stranger.headers
    )
    assert response.status_code == 404


async def test_client_keys_are_limited_per_ip(settings: Settings) -> None:
    async with running(settings, app_client_rate_limit_per_minute=3) as (application, http):
        key = await new_key(application)
        mobile = await create_app(http, key)
        headers = await client_key(http, key, mobile["id"])
        url = f"/api/v1/apps/{mobile['id']}/installs"
        answers = [await http.post(url, json={"device": DEVICE}, headers=headers) for _ in range(4)]
        assert [a.status_code for a in answers] == [201, 201, 201, 429]
        assert answers[-1].json()["code"] == "rate_limited"
        assert "retry-after" in answers[-1].headers
        # The workspace's own key is limited on its own.
        assert (await http.get("/api/v1/apps", headers=key.headers)).status_code == 200


async def test_app_client_scope_cannot_be_made_through_keys(
    client: httpx.AsyncClient, key: Key
) -> None:
    response = await client.post(
        "/api/v1/keys", json={"name": "x", "scope": "app_client"}, headers=key.headers
    )
    assert response.status_code == 422
