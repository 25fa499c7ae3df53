"""``POST /referrals`` with a ``click_id``: the click decides the referrer, within the window."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from referkit.kit.ids import id_floor
from referkit.kit.time import utcnow
from referkit.models import Click
from tests.factories import Key, create_member, create_program

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"


async def _click(client: httpx.AsyncClient, code: str, ua: str = BROWSER) -> str:
    response = await client.get(f"/r/{code}", headers={"user-agent": ua})
    return parse_qs(urlsplit(response.headers["location"]).query)["rk_click"][0]


async def test_click_id_names_the_referrer(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    click_id = await _click(client, member["referral_code"])
    response = await client.post(
        "/api/v1/referrals",
        json={"click_id": click_id, "referee": {"email": "friend@example.com"}},
        headers=key.headers,
    )
    assert response.status_code == 201, response.text
    referral = response.json()
    assert referral["member_id"] == member["id"]
    attribution = referral["attribution"]
    assert attribution["method"] == "click_id"
    assert attribution["click_id"] == click_id
    assert attribution["link_id"].startswith("lnk_")
    assert click_id in attribution["explanation"]
    stats = (await client.get(f"/api/v1/members/{member['id']}/stats", headers=key.headers)).json()
    assert stats["referrals"] == 1


async def test_unusable_clicks_are_refused(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, attribution={"window_days": 7})
    member = await create_member(client, key, program["id"])
    bot_click = await _click(client, member["referral_code"], ua="Googlebot/2.1")
    recent_click = await _click(client, member["referral_code"])
    # Aged as if made 8 days ago: its time, and its id (ids carry their creation time, which
    # lookups use to find the click's monthly partition on PostgreSQL).
    aged = utcnow() - timedelta(days=8)
    old_click = id_floor("clk", aged)[:-16] + recent_click[-16:]
    async with app.state.sessions.transaction() as session:
        await session.execute(
            update(Click).where(Click.id == recent_click).values(id=old_click, created_at=aged)
        )
    plain = await client.post(
        "/api/v1/links", json={"destination_url": "https://e.com/"}, headers=key.headers
    )
    plain_click = await _click(client, plain.json()["code"])
    for click_id in (bot_click, old_click, plain_click):
        response = await client.post(
            "/api/v1/referrals",
            json={"click_id": click_id, "referee": {"email": "late@example.com"}},
            headers=key.headers,
        )
        assert response.status_code == 422, click_id
        assert response.json()["code"] == "click_not_attributable"
    unknown = await client.post(
        "/api/v1/referrals",
        json={"click_id": "clk_01jd9x4k6b8v2q3r5s7t9w1y3z", "referee": {"email": "x@e.com"}},
        headers=key.headers,
    )
    assert unknown.json()["code"] == "unknown_click"
