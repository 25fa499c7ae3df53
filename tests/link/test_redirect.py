"""``GET /r/{code}``: 302 with rk_click only after the click is stored; bots, HEAD, reach per
visitor per hour, orphans, per-platform destinations, UTM, expiry, and cache invalidation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referkit.kit.time import utcnow
from referkit.link.clicks import reach_key
from referkit.models import Click, ReachMark
from tests.factories import Key, create_member, create_program

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile"


async def _link(client: httpx.AsyncClient, key: Key, **body: Any) -> dict[str, Any]:
    body.setdefault("destination_url", "https://example.com/landing")
    body.setdefault("code", f"R{uuid.uuid4().hex[:10]}")
    response = await client.post("/api/v1/links", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _open(
    client: httpx.AsyncClient, code: str, ua: str = BROWSER, method: str = "GET", **headers: str
) -> httpx.Response:
    return await client.request(method, f"/r/{code}", headers={"user-agent": ua, **headers})


async def _clicks(app: FastAPI, **where: Any) -> list[Click]:
    async with app.state.sessions(write=False) as session:
        stmt = select(Click).filter_by(**where).order_by(Click.id)
        return list((await session.scalars(stmt)).all())


def _click_id(response: httpx.Response) -> str:
    return parse_qs(urlsplit(response.headers["location"]).query)["rk_click"][0]


async def _counts(client: httpx.AsyncClient, key: Key, link_id: str) -> tuple[int, int]:
    link = (await client.get(f"/api/v1/links/{link_id}", headers=key.headers)).json()
    return link["clicks"], link["unique_clicks"]


async def test_redirect_records_the_click_before_answering(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    link = await _link(
        client, key, destination_url="https://example.com/p?x=1#top", utm={"source": "mail"}
    )
    response = await _open(client, link["code"].upper(), referer="https://blog.example/")
    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    location = urlsplit(response.headers["location"])
    assert (location.netloc, location.path, location.fragment) == ("example.com", "/p", "top")
    query = parse_qs(location.query)
    assert query["x"] == ["1"]
    assert query["utm_source"] == ["mail"]
    click_id = _click_id(response)
    # Stored by the time the 302 arrived: no waiting, no retry.
    (click,) = await _clicks(app, id=click_id)
    assert (click.link_id, click.is_bot, click.is_unique, click.is_orphan) == (
        link["id"],
        False,
        True,
        False,
    )
    assert click.referer == "https://blog.example/"
    assert click.visitor_id == response.cookies["rk_vid"]
    assert await _counts(client, key, link["id"]) == (1, 1)
    assert (await client.get(f"/api/c/{link['code']}")).status_code == 302  # the alias


async def test_reach_is_one_visitor_per_link_per_hour(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    link = await _link(client, key)
    # Concurrent clicks of one visitor land in one batch; only one of them is reach.
    answers = await asyncio.gather(*(_open(client, link["code"]) for _ in range(5)))
    assert {a.status_code for a in answers} == {302}
    other = await _open(client, link["code"], ua=BROWSER + " Other")
    assert other.status_code == 302
    assert await _counts(client, key, link["id"]) == (6, 2)
    clicks = await _clicks(app, link_id=link["id"])
    assert sum(c.is_unique for c in clicks) == 2
    # The two marks are the link's workspace's (a sharded database keeps them with it).
    keys = {reach_key(c.visitor_hash, link["id"], c.created_at) for c in clicks if c.is_unique}
    async with app.state.sessions(write=False) as session:
        marks = await session.execute(
            select(ReachMark.key, ReachMark.workspace_id).where(ReachMark.key.in_(keys))
        )
        assert set(marks) == {(k, key.workspace_id) for k in keys}


async def test_bots_and_head_are_stored_but_not_reach(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    link = await _link(client, key)
    head = await _open(client, link["code"], method="HEAD")
    slack = await _open(client, link["code"], ua="Slackbot-LinkExpanding 1.0")
    empty = await _open(client, link["code"], ua="")
    assert [r.status_code for r in (head, slack, empty)] == [302, 302, 302]
    clicks = await _clicks(app, link_id=link["id"])
    assert len(clicks) == 3
    assert all(c.is_bot and not c.is_unique for c in clicks)
    assert await _counts(client, key, link["id"]) == (0, 0)


async def test_unknown_and_expired_codes_are_orphans(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    unknown = f"nope{uuid.uuid4().hex[:8]}"
    response = await _open(client, unknown)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert unknown in response.text
    (orphan,) = await _clicks(app, code=unknown)
    assert orphan.is_orphan
    assert orphan.link_id is None
    assert orphan.workspace_id == ""  # no workspace (a key column on PostgreSQL)

    link = await _link(client, key)
    await client.patch(
        f"/api/v1/links/{link['id']}",
        json={"expires_at": (utcnow() - timedelta(minutes=1)).isoformat()},
        headers=key.headers,
    )
    expired = await _open(client, link["code"])
    assert expired.status_code == 404
    (click,) = await _clicks(app, link_id=link["id"])
    assert click.is_orphan
    assert await _counts(client, key, link["id"]) == (0, 0)

    markup = await _open(client, "<b>bold")
    assert markup.status_code == 404
    assert "<b>" not in markup.text
    assert "&lt;b&gt;bold" in markup.text


async def test_platform_destinations(client: httpx.AsyncClient, key: Key) -> None:
    link = await _link(
        client,
        key,
        ios_url="https://apps.apple.com/app/id1",
        android_url="https://play.google.com/store/apps/details?id=x",
    )
    expected = {
        IPHONE: "apps.apple.com",
        ANDROID: "play.google.com",
        BROWSER: "example.com",
    }
    for ua, host in expected.items():
        response = await _open(client, link["code"], ua=ua)
        assert urlsplit(response.headers["location"]).netloc == host, ua


async def test_edit_is_seen_by_the_next_click(client: httpx.AsyncClient, key: Key) -> None:
    link = await _link(client, key)
    assert "example.com" in (await _open(client, link["code"])).headers["location"]
    await client.patch(
        f"/api/v1/links/{link['id']}",
        json={"destination_url": "https://changed.example/"},
        headers=key.headers,
    )
    response = await _open(client, link["code"])
    assert urlsplit(response.headers["location"]).netloc == "changed.example"
    await client.delete(f"/api/v1/links/{link['id']}", headers=key.headers)
    assert (await _open(client, link["code"])).status_code == 404


async def test_member_link_follows_the_program_and_counts_for_the_member(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, landing_url="https://example.com/join")
    member = await create_member(client, key, program["id"])
    response = await _open(client, member["referral_code"])
    assert response.headers["location"].startswith("https://example.com/join?rk_click=clk_")
    stats = await client.get(f"/api/v1/members/{member['id']}/stats", headers=key.headers)
    assert (stats.json()["clicks"], stats.json()["reach"]) == (1, 1)
    # A deleted member's link stops redirecting.
    await client.delete(f"/api/v1/members/{member['id']}", headers=key.headers)
    assert (await _open(client, member["referral_code"])).status_code == 404


async def test_no_open_redirect(client: httpx.AsyncClient, key: Key) -> None:
    link = await _link(client, key)
    response = await client.get(
        f"/r/{link['code']}?url=https://evil.example/&next=//evil.example",
        headers={"user-agent": BROWSER, "host": "evil.example"},
    )
    assert urlsplit(response.headers["location"]).netloc == "example.com"


async def test_returning_visitor_keeps_the_cookie_and_bad_cookies_are_replaced(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    link = await _link(client, key)
    visitor = "0123456789abcdef0123456789abcdef"
    cases = {
        f"theme=dark; rk_vid={visitor}; other=1": visitor,
        f"rk_vid={visitor}": visitor,
        "rk_vid=NOT-HEX-0123456789abcdef012345": None,
        f"xrk_vid={visitor}": None,
        f"rk_vid={visitor}ff": None,
    }
    for cookie, kept in cases.items():
        client.cookies.clear()
        response = await _open(client, link["code"], cookie=cookie)
        assert response.status_code == 302
        click_id = _click_id(response)
        (click,) = await _clicks(app, id=click_id)
        if kept:
            assert "set-cookie" not in response.headers, cookie
            assert click.visitor_id == kept
        else:
            assert click.visitor_id != visitor
            assert response.cookies["rk_vid"] == click.visitor_id
            assert "HttpOnly" in response.headers["set-cookie"]
            assert "SameSite=lax" in response.headers["set-cookie"]


async def test_redirect_pages_carry_the_security_headers(
    client: httpx.AsyncClient, key: Key
) -> None:
    link = await _link(client, key)
    for response in (
        await _open(client, link["code"]),
        await _open(client, link["code"], method="HEAD"),
    ):
        assert response.status_code == 302
        assert response.headers["cache-control"] == "no-store"
    missing = await _open(client, f"missing{uuid.uuid4().hex[:6]}")
    assert missing.headers["x-content-type-options"] == "nosniff"
    assert missing.headers["x-frame-options"] == "DENY"
    assert missing.headers["cache-control"] == "no-store"
    head = await _open(client, f"missing{uuid.uuid4().hex[:6]}", method="HEAD")
    assert head.status_code == 404
    assert head.content == b""
    # Paths that are not a single code segment belong to the API's 404.
    nested = await client.get("/r/a/b")
    assert nested.status_code == 404
    assert nested.headers["content-type"].startswith("application/problem+json")
