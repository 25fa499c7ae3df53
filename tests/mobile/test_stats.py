"""App stats, events, overview and portfolio: the numbers equal what was sent, read from the
rollups; AppRefer's three documented examples answer as written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
from fastapi import FastAPI

from referkit.auth.principal import Scope
from tests.factories import Key, new_key
from tests.mobile.factories import (
    ANDROID_UA,
    DESKTOP_UA,
    IPHONE_UA,
    click,
    click_id_of,
    create_app,
    create_app_link,
)

TODAY = datetime.now(UTC).date()


async def _install(client: httpx.AsyncClient, key: Key, app_id: str, **body: object) -> dict:
    response = await client.post(f"/api/v1/apps/{app_id}/installs", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _purchase(
    client: httpx.AsyncClient, key: Key, app_id: str, install_id: str, amount: int, **extra: object
) -> None:
    response = await client.post(
        "/api/v1/events",
        json={
            "event_id": f"order-{install_id}-{amount}",
            "type": "purchase",
            "app_id": app_id,
            "install_id": install_id,
            "amount": amount,
            "currency": "USD",
            **extra,
        },
        headers=key.headers,
    )
    assert response.status_code == 201, response.text


async def _traffic(client: httpx.AsyncClient, key: Key) -> tuple[dict, dict, dict]:
    """Today: 3 clicks on link A (meta via fbclid), 1 on link B; 2 installs from A (one of
    them a purchase of 1500 USD), 1 organic install, 1 reinstall. 12 days ago: one install and
    a purchase of 500 USD (the previous period of a 10-day overview)."""
    mobile = await create_app(client, key)
    a = await create_app_link(client, key, mobile["id"], campaign="spring")
    b = await create_app_link(client, key, mobile["id"], campaign="summer", network="email")
    clicks = [
        click_id_of(await click(client, a["code"], ANDROID_UA, "?fbclid=F")) for _ in range(3)
    ]
    await click(client, b["code"], DESKTOP_UA)
    first = await _install(
        client,
        key,
        mobile["id"],
        device={"os": "android", "gaid": "g1"},
        install_referrer=f"rk_click={clicks[0]}",
    )
    await _install(
        client,
        key,
        mobile["id"],
        device={"os": "android"},
        install_referrer=f"rk_click={clicks[1]}",
    )
    await _install(client, key, mobile["id"], device={"os": "ios", "ip": "203.0.113.1"})
    await _install(client, key, mobile["id"], device={"os": "android", "gaid": "g1"})
    await _purchase(client, key, mobile["id"], first["install_id"], 1500)
    old = (datetime.now(UTC) - timedelta(days=12)).isoformat()
    earlier = await _install(
        client, key, mobile["id"], device={"os": "ios", "ip": "203.0.113.2"}, occurred_at=old
    )
    await _purchase(client, key, mobile["id"], earlier["install_id"], 500, occurred_at=old)
    return mobile, a, b


async def test_stats_group_by(client: httpx.AsyncClient, key: Key) -> None:
    mobile, a, b = await _traffic(client, key)
    url = f"/api/v1/apps/{mobile['id']}/stats"
    by_link = await client.get(url, params={"group_by": "link"}, headers=key.headers)
    assert by_link.status_code == 200, by_link.text
    body = by_link.json()
    totals = body["totals"]
    assert (totals["clicks"], totals["installs"], totals["reinstalls"]) == (4, 4, 1)
    assert totals["events"] == 2
    assert totals["revenue"] == [{"amount": 2000, "currency": "USD"}]
    assert totals["conversion_rate"] == 1.0
    rows = {row["key"]: row for row in body["data"]}
    assert rows[a["id"]]["clicks"] == 3
    assert rows[a["id"]]["installs"] == 2
    assert rows[a["id"]]["conversion_rate"] == round(2 / 3, 4)
    assert rows[a["id"]]["revenue"] == [{"amount": 1500, "currency": "USD"}]
    assert rows[b["id"]]["clicks"] == 1
    by_network = await client.get(url, params={"group_by": "network"}, headers=key.headers)
    networks = {row["key"]: row for row in by_network.json()["data"]}
    assert networks["meta"]["clicks"] == 3
    assert networks["meta"]["installs"] == 2
    assert networks["email"]["clicks"] == 1
    assert networks[None]["installs"] == 2  # the organic installs (one is 12 days old)
    by_campaign = await client.get(url, params={"group_by": "campaign"}, headers=key.headers)
    assert {r["key"]: r["clicks"] for r in by_campaign.json()["data"]}["spring"] == 3
    by_day = await client.get(
        url, params={"group_by": "day", "from": str(TODAY - timedelta(days=1))}, headers=key.headers
    )
    (today,) = by_day.json()["data"]
    assert today["key"] == str(TODAY)
    assert today["installs"] == 3


async def test_overview_against_the_previous_period(client: httpx.AsyncClient, key: Key) -> None:
    mobile, a, _ = await _traffic(client, key)
    start = TODAY - timedelta(days=9)
    response = await client.get(
        f"/api/v1/apps/{mobile['id']}/overview",
        params={"from": str(start), "to": str(TODAY)},
        headers=key.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["previous_period"] == {
        "from": str(start - timedelta(days=10)),
        "to": str(start - timedelta(days=1)),
    }
    assert body["kpis"]["installs"] == {"current": 3, "previous": 1, "change": 2.0}
    assert body["kpis"]["clicks"] == {"current": 4, "previous": 0, "change": None}
    assert body["kpis"]["revenue_USD"] == {"current": 1500, "previous": 500, "change": 2.0}
    assert body["top_links"][0]["link_id"] == a["id"]
    assert body["top_links"][0]["installs"] == 2


async def test_portfolio(app: FastAPI, client: httpx.AsyncClient, key: Key) -> None:
    mobile, _, _ = await _traffic(client, key)
    quiet = await create_app(client, key, name="Quiet")
    analytics = await new_key(app, workspace=None, scope=Scope.analytics)
    assert (await client.get("/api/v1/portfolio", headers=analytics.headers)).json()["data"] == []
    response = await client.get(
        "/api/v1/portfolio",
        params={"from": str(TODAY - timedelta(days=9)), "to": str(TODAY)},
        headers=key.headers,
    )
    body = response.json()
    apps = {row["app_id"]: row for row in body["data"]}
    assert apps[mobile["id"]]["current"]["installs"] == 3
    assert apps[mobile["id"]]["previous"]["installs"] == 1
    assert apps[quiet["id"]]["current"]["clicks"] == 0
    assert body["totals"]["clicks"] == 4
    assert body["totals"]["revenue"] == [{"amount": 1500, "currency": "USD"}]
    assert body["previous_totals"]["revenue"] == [{"amount": 500, "currency": "USD"}]


async def test_apprefer_examples_run_as_written(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    mobile, _, _ = await _traffic(client, key)
    made = await client.post(
        "/api/v1/keys", json={"name": "reporting", "scope": "analytics"}, headers=key.headers
    )
    api_key = made.json()["secret"]
    analytics = {"Authorization": f"Bearer {api_key}"}
    app_id = mobile["id"]
    # curl -H "Authorization: Bearer $API_KEY" https://…/api/v1/apps/{appId}/stats
    stats = await client.get(
        f"/api/v1/apps/{app_id}/stats", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert stats.status_code == 200
    assert stats.json()["totals"]["installs"] == 4
    # fetch(`…/api/v1/apps/${appId}/overview`, {headers: {Authorization: `Bearer ${apiKey}`}})
    overview = await client.get(
        f"/api/v1/apps/{app_id}/overview", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert overview.status_code == 200
    assert set(overview.json()) >= {"kpis", "top_links", "period", "previous_period"}
    # requests.get(f"…/api/v1/apps/{app_id}/events", headers=…, params={"limit": 50})
    events = await client.get(
        f"/api/v1/apps/{app_id}/events",
        headers={"Authorization": f"Bearer {api_key}"},
        params={"limit": 50},
    )
    assert events.status_code == 200
    body = events.json()
    assert set(body) == {"data", "meta"}
    assert len(body["data"]) == 7
    assert body["meta"]["hasMore"] is False
    page = await client.get(f"/api/v1/apps/{app_id}/events", headers=analytics, params={"limit": 5})
    rest = await client.get(
        f"/api/v1/apps/{app_id}/events",
        headers=analytics,
        params={"limit": 5, "cursor": page.json()["meta"]["cursor"]},
    )
    assert len(page.json()["data"]) + len(rest.json()["data"]) == 7


async def test_stats_read_only_their_app(app: FastAPI, client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    stranger = await new_key(app)
    for path in ("stats", "overview", "events"):
        response = await client.get(f"/api/v1/apps/{mobile['id']}/{path}", headers=stranger.headers)
        assert response.status_code == 404
    bad = await client.get(
        f"/api/v1/apps/{mobile['id']}/stats",
        params={"from": str(date(2026, 2, 1)), "to": str(date(2026, 1, 1))},
        headers=key.headers,
    )
    assert bad.status_code == 422
    click_only = await client.get(
        f"/api/v1/apps/{mobile['id']}/stats", params={"group_by": "x"}, headers=key.headers
    )
    assert click_only.status_code == 422
    assert IPHONE_UA  # the factories' user agents are shared with the other modules
