"""Installs: evidence order, confidence, windows, reinstalls, claims, deferred deep links, and
the same install through the event API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import Key
from tests.mobile.factories import (
    ANDROID_UA,
    IPHONE_UA,
    click,
    click_id_of,
    create_app,
    create_app_link,
)

IPHONE_DEVICE = {"ip": "127.0.0.1", "user_agent": IPHONE_UA, "os": "ios", "os_version": "17.4"}


def _later(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def _install(
    client: httpx.AsyncClient, headers: dict[str, str], app_id: str, **body: Any
) -> httpx.Response:
    return await client.post(f"/api/v1/apps/{app_id}/installs", json=body, headers=headers)


async def test_install_referrer_attributes_an_android_install(
    client: httpx.AsyncClient, key: Key
) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(client, key, mobile["id"])
    click_id = click_id_of(await click(client, link["code"], ANDROID_UA))
    response = await _install(
        client,
        key.headers,
        mobile["id"],
        device={"os": "android", "os_version": "14", "ip": "198.51.100.7", "gaid": "g-1"},
        install_referrer=f"rk_click={click_id}&utm_source=google-play",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["install_id"].startswith("evt_")
    assert body["attribution"]["method"] == "install_referrer"
    assert body["attribution"]["click_id"] == click_id
    assert body["attribution"]["link_id"] == link["id"]
    assert body["attribution"]["network"] == "influencer"
    assert body["attribution"]["campaign"] == "spring"
    assert body["attribution"]["confidence"] == 1.0
    assert click_id in body["attribution"]["explanation"]
    assert body["reinstall"] is False
    assert body["deep_link"] == {
        "url": "example://product/42?coupon=SPRING",
        "path": "/product/42",
        "params": {"coupon": "SPRING"},
    }


async def test_probabilistic_then_organic_then_reinstall(
    client: httpx.AsyncClient, key: Key
) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(client, key, mobile["id"])
    click_id = click_id_of(await click(client, link["code"], IPHONE_UA))
    three_hours = await _install(
        client, key.headers, mobile["id"], device=IPHONE_DEVICE, occurred_at=_later(3)
    )
    attribution = three_hours.json()["attribution"]
    assert attribution["method"] == "probabilistic", attribution
    assert attribution["click_id"] == click_id
    assert attribution["matched"] == ["ip", "os", "os_version"]
    assert 0.5 < attribution["confidence"] < 0.95
    assert "confidence" in attribution["explanation"]
    assert three_hours.json()["deep_link"]["path"] == "/product/42"

    click_id_of(await click(client, link["code"], IPHONE_UA))  # a fresh click, 25 h before
    late = await _install(
        client, key.headers, mobile["id"], device=IPHONE_DEVICE, occurred_at=_later(25)
    )
    assert late.json()["attribution"]["method"] == "organic"
    assert late.json()["deep_link"] is None
    assert "24 h" in late.json()["attribution"]["explanation"]

    device = {**IPHONE_DEVICE, "idfv": "IDFV-1"}
    first = await _install(client, key.headers, mobile["id"], device=device)
    again = await _install(client, key.headers, mobile["id"], device=device)
    assert first.json()["reinstall"] is False
    assert again.json()["reinstall"] is True


async def test_a_click_is_claimed_once(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(client, key, mobile["id"])
    click_id = click_id_of(await click(client, link["code"], IPHONE_UA))
    first = await _install(
        client, key.headers, mobile["id"], device=IPHONE_DEVICE, click_id=click_id
    )
    assert first.json()["attribution"]["method"] == "click_id"
    second = await _install(
        client, key.headers, mobile["id"], device=IPHONE_DEVICE, click_id=click_id
    )
    assert second.json()["attribution"]["method"] == "organic"
    assert "claimed" in second.json()["attribution"]["explanation"]


async def test_probabilistic_window_zero_turns_it_off(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key, attribution={"probabilistic_window_hours": 0})
    link = await create_app_link(client, key, mobile["id"])
    await click(client, link["code"], IPHONE_UA)
    response = await _install(client, key.headers, mobile["id"], device=IPHONE_DEVICE)
    assert response.json()["attribution"]["method"] == "organic"


async def test_the_same_install_twice_is_one_install(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    body = {"device": IPHONE_DEVICE, "event_id": "install-uuid-1"}
    first = await _install(client, key.headers, mobile["id"], **body)
    second = await _install(client, key.headers, mobile["id"], **body)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json() == first.json()
    events = await client.get(
        f"/api/v1/apps/{mobile['id']}/events", params={"type": "install"}, headers=key.headers
    )
    assert len(events.json()["data"]) == 1


async def test_install_event_through_the_event_api(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(client, key, mobile["id"])
    click_id = click_id_of(await click(client, link["code"], ANDROID_UA))
    event = {
        "event_id": "install-a",
        "type": "install",
        "app_id": mobile["id"],
        "install_referrer": f"rk_click={click_id}",
        "device": {"os": "android"},
    }
    stored = await client.post("/api/v1/events", json=event, headers=key.headers)
    assert stored.status_code == 201, stored.text
    assert stored.json()["attribution"]["method"] == "install_referrer"
    assert stored.json()["link_id"] == link["id"]
    replay = await client.post("/api/v1/events", json=event, headers=key.headers)
    assert replay.status_code == 200
    assert replay.json()["id"] == stored.json()["id"]
    unknown = await client.post(
        "/api/v1/events",
        json={**event, "event_id": "x", "app_id": "app_01jd9x4k6b8v2q3r5s7t9w1y3z"},
        headers=key.headers,
    )
    assert unknown.status_code == 422


async def test_in_app_events_follow_their_install(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(client, key, mobile["id"])
    click_id = click_id_of(await click(client, link["code"], IPHONE_UA))
    install = await _install(
        client,
        key.headers,
        mobile["id"],
        device={**IPHONE_DEVICE, "idfv": "D-9"},
        click_id=click_id,
    )
    install_id = install.json()["install_id"]
    purchase = await client.post(
        "/api/v1/events",
        json={
            "event_id": "order-1",
            "type": "purchase",
            "app_id": mobile["id"],
            "install_id": install_id,
            "amount": 999,
            "currency": "USD",
        },
        headers=key.headers,
    )
    assert purchase.status_code == 201, purchase.text
    assert purchase.json()["click_id"] == click_id
    assert purchase.json()["link_id"] == link["id"]
    assert purchase.json()["attribution"]["method"] == "install"
    by_device = await client.post(
        "/api/v1/events",
        json={
            "event_id": "level-1",
            "type": "custom",
            "name": "level_up",
            "app_id": mobile["id"],
            "device": {"os": "ios", "idfv": "D-9"},
        },
        headers=key.headers,
    )
    assert by_device.json()["click_id"] == click_id


async def test_an_open_from_a_recent_click_reattributes(
    client: httpx.AsyncClient, key: Key
) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(client, key, mobile["id"], network="email")
    click_id = click_id_of(await click(client, link["code"], IPHONE_UA))
    opened = await client.post(
        "/api/v1/events",
        json={"event_id": "open-1", "type": "open", "app_id": mobile["id"], "click_id": click_id},
        headers=key.headers,
    )
    assert opened.json()["attribution"]["method"] == "reattribution"
    assert opened.json()["attribution"]["network"] == "email"
