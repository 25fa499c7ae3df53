"""Breakdowns over HTTP: clicks sent through ``/r/{code}`` from known addresses and browsers,
then a signup, a purchase and a refund attributed to them; every group must hold exactly what
was sent, bots excluded, and another workspace's link or program is a 404."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Mode, Scope
from referkit.auth.service import AuthService
from referkit.config import Settings
from tests.conftest import running
from tests.factories import Key, create_member, create_program, new_key

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
US, GB = "8.8.8.8", "81.2.69.160"


async def _click(
    http: httpx.AsyncClient,
    code: str,
    *,
    ip: str,
    agent: str,
    referer: str | None = None,
    query: str = "",
    method: str = "GET",
) -> str | None:
    headers = {"user-agent": agent, "x-forwarded-for": ip}
    if referer:
        headers["referer"] = referer
    response = await http.request(method, f"/r/{code}{query}", headers=headers)
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query).get("rk_click", [None])[0]


async def _event(http: httpx.AsyncClient, key: Key, **body: Any) -> None:
    response = await http.post("/api/v1/events", json=body, headers=key.headers)
    assert response.status_code == 201, response.text


async def _get(http: httpx.AsyncClient, key: Key, path: str, **params: Any) -> Any:
    response = await http.get(path, params=params, headers=key.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _by_value(answer: dict[str, Any]) -> dict[str | None, tuple[Any, ...]]:
    return {
        group["value"]: (
            group["clicks"],
            group["reach"],
            group["signups"],
            group["conversions"],
            [(money["currency"], money["amount"]) for money in group["revenue"]],
        )
        for group in answer["groups"]
    }


async def _link_id(http: httpx.AsyncClient, key: Key, member_id: str) -> str:
    links = await _get(http, key, "/api/v1/links", member_id=member_id)
    link_id: str = links["data"][0]["id"]
    return link_id


async def test_groups_hold_what_was_sent(settings: Settings) -> None:
    # The test client is 127.0.0.1: trusted as a proxy, its X-Forwarded-For is the visitor.
    async with running(settings, trusted_proxies="127.0.0.1/32") as (app, http):
        key = await new_key(app)
        program = await create_program(http, key)
        member = await create_member(http, key, program["id"])
        code = member["referral_code"]
        us_click = await _click(http, code, ip=US, agent=IPHONE, referer="https://www.t.co/x")
        await _click(http, code, ip=US, agent=IPHONE, referer="https://t.co/y")  # same visitor
        gb_click = await _click(
            http, code, ip=GB, agent=WINDOWS, query="?utm_source=newsletter&utm_campaign=may"
        )
        await _click(http, code, ip=US, agent=GOOGLEBOT)  # a bot: stored, never counted
        await _click(http, code, ip=GB, agent=WINDOWS, method="HEAD")  # so is a HEAD
        await _event(
            http,
            key,
            event_id="signup-1",
            type="signup",
            click_id=gb_click,
            customer={"email": "friend@example.com"},
        )
        await _event(
            http,
            key,
            event_id="buy-1",
            type="purchase",
            click_id=us_click,
            amount=5000,
            currency="USD",
        )
        await _event(
            http,
            key,
            event_id="refund-1",
            type="refund",
            click_id=us_click,
            refunded_event_id="buy-1",
            amount=1500,
            currency="USD",
        )
        path = f"/api/v1/programs/{program['id']}/breakdown"
        country = await _get(http, key, path, group_by="country")
        assert _by_value(country) == {
            "US": (2, 1, 0, 1, [("USD", 3500)]),
            "GB": (1, 1, 1, 0, []),
        }
        assert country["totals"] == {
            "clicks": 3,
            "reach": 2,
            "signups": 1,
            "conversions": 1,
            "revenue": [{"amount": 3500, "currency": "USD"}],
        }
        assert [g["value"] for g in country["groups"]] == ["US", "GB"]  # most clicks first
        assert country["program_id"] == program["id"]
        assert country["group_by"] == "country"
        expected = {
            "device": {"mobile": 2, "desktop": 1},
            "os": {"iOS": 2, "Windows": 1},
            "browser": {"Mobile Safari": 2, "Chrome": 1},
            "referrer": {"t.co": 2, None: 1},
            "utm_source": {None: 2, "newsletter": 1},
            "utm_campaign": {None: 2, "may": 1},
        }
        for group_by, clicks in expected.items():
            answer = await _get(http, key, path, group_by=group_by)
            assert {k: v[0] for k, v in _by_value(answer).items()} == clicks, group_by
        link_id = await _link_id(http, key, member["id"])
        link = await _get(http, key, f"/api/v1/links/{link_id}/stats", group_by="country")
        assert _by_value(link) == _by_value(country)
        assert link["link_id"] == link_id
        totals = await _get(http, key, f"/api/v1/links/{link_id}/stats")
        assert totals["groups"] == []
        assert totals["group_by"] is None
        assert totals["totals"] == country["totals"]
        # The day range bounds what is summed.
        past = await _get(
            http, key, path, group_by="country", to="2020-01-31", **{"from": "2020-01-01"}
        )
        assert past["groups"] == []
        assert past["totals"]["clicks"] == 0
        top = await _get(http, key, path, group_by="country", limit=1)
        assert [g["value"] for g in top["groups"]] == ["US"]
        assert top["more"] is True


async def test_tenancy_scopes_and_problems(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    link_id = await _link_id(client, key, member["id"])
    other = await new_key(app)
    for path in (
        f"/api/v1/links/{link_id}/stats",
        f"/api/v1/programs/{program['id']}/breakdown?group_by=country",
    ):
        response = await client.get(path, headers=other.headers)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    async with app.state.sessions.transaction() as session:
        analytics = await AuthService(session).issue_key(
            key.workspace_id, name="analytics", scope=Scope.analytics, mode=Mode.live
        )
    for secret in (analytics.secret, key.secret):
        response = await client.get(
            f"/api/v1/links/{link_id}/stats", headers={"Authorization": f"Bearer {secret}"}
        )
        assert response.status_code == 200
    bad = [
        (f"/api/v1/programs/{program['id']}/breakdown", {}),
        (f"/api/v1/programs/{program['id']}/breakdown", {"group_by": "planet"}),
        (f"/api/v1/programs/{program['id']}/breakdown", {"group_by": "network"}),
        (f"/api/v1/links/{link_id}/stats", {"group_by": "campaign"}),
        (f"/api/v1/links/{link_id}/stats", {"from": "2024-02-01", "to": "2024-01-01"}),
        (f"/api/v1/links/{link_id}/stats", {"from": "2000-01-01", "to": "2024-01-01"}),
        (f"/api/v1/links/{link_id}/stats", {"from": "yesterday"}),
        (f"/api/v1/links/{link_id}/stats", {"limit": "0"}),
    ]
    for path, params in bad:
        response = await client.get(path, params=params, headers=key.headers)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("group_by", ["network", "campaign"])
async def test_app_links_break_down_by_network(settings: Settings, group_by: str) -> None:
    async with running(settings) as (app, http):
        key = await new_key(app)
        created = await http.post(
            "/api/v1/apps",
            json={"name": "Shop", "platforms": {"web": {"url": "https://shop.example/"}}},
            headers=key.headers,
        )
        assert created.status_code == 201, created.text
        app_id = created.json()["id"]
        link = await http.post(
            f"/api/v1/apps/{app_id}/links",
            json={"network": "meta", "campaign": "spring"},
            headers=key.headers,
        )
        assert link.status_code == 201, link.text
        code, link_id = link.json()["code"], link.json()["id"]
        await _click(http, code, ip=US, agent=IPHONE)
        await _click(http, code, ip=US, agent=WINDOWS, query="?gclid=abc")
        answer = await _get(http, key, f"/api/v1/links/{link_id}/stats", group_by=group_by)
        clicks = {k: v[0] for k, v in _by_value(answer).items()}
        assert clicks == ({"meta": 1, "google_ads": 1} if group_by == "network" else {"spring": 2})
