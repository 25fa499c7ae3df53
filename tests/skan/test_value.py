"""GET /apps/{id}/skan/value: the value the app should set now, from its install's events."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.factories import Key, new_key
from tests.skan.factories import app_event, install, put_schema, skan_app


async def _value(client: httpx.AsyncClient, headers: dict, app_id: str, install_id: str) -> dict:
    response = await client.get(
        f"/api/v1/apps/{app_id}/skan/value", params={"install_id": install_id}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


async def test_value_follows_the_installs_events(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    assert (await put_schema(client, key, app["id"])).status_code == 200
    install_id = await install(client, key, app["id"])
    other_install = await install(client, key, app["id"])

    fresh = await _value(client, key.headers, app["id"], install_id)
    assert fresh == {
        "install_id": install_id,
        "window": 1,
        "fine": 0,
        "coarse": "low",
        "lock": False,
        "schema_version": 1,
        "events": 1,
        "revenue": 0,
    }
    await app_event(client, key, app["id"], install_id, "signup")
    await app_event(client, key, app["id"], install_id, "purchase", amount=800, currency="USD")
    # Another install's purchase and a purchase in another currency do not count.
    await app_event(client, key, app["id"], other_install, "purchase", amount=9000, currency="USD")
    await app_event(client, key, app["id"], install_id, "purchase", amount=9000, currency="EUR")
    one = await _value(client, key.headers, app["id"], install_id)
    assert (one["fine"], one["coarse"], one["revenue"]) == (10, "high", 800)
    assert one["lock"] is True  # two purchases (any currency) meet the lock rule
    await app_event(client, key, app["id"], install_id, "purchase", amount=500, currency="USD")
    two = await _value(client, key.headers, app["id"], install_id)
    assert (two["fine"], two["revenue"], two["events"]) == (20, 1300, 5)

    untouched = await _value(client, key.headers, app["id"], other_install)
    assert untouched["fine"] == 30


async def test_client_key_of_the_app_may_ask(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    mine = await skan_app(client, key)
    assert (await put_schema(client, key, mine["id"])).status_code == 200
    install_id = await install(client, key, mine["id"])
    issued = await client.post(f"/api/v1/apps/{mine['id']}/client-keys", headers=key.headers)
    client_headers = {"authorization": f"Bearer {issued.json()['key']}"}
    assert (await _value(client, client_headers, mine["id"], install_id))["fine"] == 0

    other_app = await skan_app(client, key)
    response = await client.get(
        f"/api/v1/apps/{other_app['id']}/skan/value",
        params={"install_id": install_id},
        headers=client_headers,
    )
    assert response.status_code == 403
    stranger = await new_key(app)
    response = await client.get(
        f"/api/v1/apps/{mine['id']}/skan/value",
        params={"install_id": install_id},
        headers=stranger.headers,
    )
    assert response.status_code == 404


async def test_unknown_install_is_404(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    assert (await put_schema(client, key, app["id"])).status_code == 200
    for install_id in ("evt_nope", "evt_01jd9x4k6b8v2q3r5s7t9w1y3z"):
        response = await client.get(
            f"/api/v1/apps/{app['id']}/skan/value",
            params={"install_id": install_id},
            headers=key.headers,
        )
        assert response.status_code == 404
