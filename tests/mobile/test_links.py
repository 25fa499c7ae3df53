"""App links: the Link object plus app fields, routing by platform, ad click ids, previews."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referkit.db.session import SessionFactory
from referkit.models import AppClick
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


async def _app_click(app: FastAPI, click_id: str) -> AppClick:
    sessions: SessionFactory = app.state.sessions
    async with sessions.transaction() as session:
        row = await session.scalar(select(AppClick).where(AppClick.id == click_id))
    assert row is not None
    return row


async def test_app_link_crud(app: FastAPI, client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(client, key, mobile["id"], adset="a1", ad="ad9")
    assert link["app_id"] == mobile["id"]
    assert link["deep_link_path"] == "/product/42"
    assert link["deep_link_params"] == {"coupon": "SPRING"}
    assert (link["network"], link["campaign"], link["adset"], link["ad"]) == (
        "influencer",
        "spring",
        "a1",
        "ad9",
    )
    base = f"/api/v1/apps/{mobile['id']}/links"
    listed = await client.get(base, headers=key.headers)
    assert [row["id"] for row in listed.json()["data"]] == [link["id"]]
    patched = await client.patch(
        f"{base}/{link['id']}", json={"campaign": "summer"}, headers=key.headers
    )
    assert patched.json()["campaign"] == "summer"
    other_app = await create_app(client, key)
    wrong = await client.get(
        f"/api/v1/apps/{other_app['id']}/links/{link['id']}", headers=key.headers
    )
    assert wrong.status_code == 404
    stranger = await new_key(app)
    assert (await client.get(base, headers=stranger.headers)).status_code == 404
    assert (await client.delete(f"{base}/{link['id']}", headers=key.headers)).status_code == 204
    assert (await client.get(f"{base}/{link['id']}", headers=key.headers)).status_code == 404


async def test_an_app_link_needs_somewhere_to_go(client: httpx.AsyncClient, key: Key) -> None:
    bare = await create_app(client, key, platforms={})
    response = await client.post(
        f"/api/v1/apps/{bare['id']}/links", json={"campaign": "x"}, headers=key.headers
    )
    assert response.status_code == 422
    assert (await create_app_link(client, key, bare["id"], destination_url="https://e.com"))["id"]


async def test_plain_links_refuse_app_fields(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.post(
        "/api/v1/links",
        json={"destination_url": "https://example.com", "network": "meta"},
        headers=key.headers,
    )
    assert response.status_code == 422


async def test_routes_by_platform(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(client, key, mobile["id"])
    ios = await click(client, link["code"], IPHONE_UA)
    assert ios.status_code == 302
    assert ios.headers["location"].startswith("https://apps.apple.com/app/id123456789")
    android = await click(client, link["code"], ANDROID_UA)
    location = android.headers["location"]
    assert location.startswith("https://play.google.com/store/apps/details?id=com.example.app")
    click_id = click_id_of(android)
    assert f"referrer=rk_click%3D{click_id}" in location
    assert parse_qs(urlsplit(location).query)["referrer"] == [f"rk_click={click_id}"]
    web = await click(client, link["code"], DESKTOP_UA)
    assert web.headers["location"].startswith("https://example.com/app?rk_click=clk_")


async def test_link_urls_win_over_stores(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(
        client,
        key,
        mobile["id"],
        ios_url="https://example.com/ios",
        destination_url="https://example.com/web",
    )
    assert (
        (await click(client, link["code"], IPHONE_UA))
        .headers["location"]
        .startswith("https://example.com/ios?rk_click=clk_")
    )
    assert (
        (await click(client, link["code"], DESKTOP_UA))
        .headers["location"]
        .startswith("https://example.com/web?rk_click=clk_")
    )


async def test_ad_click_ids_and_utm_decide_the_network(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(client, key, mobile["id"], network="influencer")
    cases = [
        ("?gclid=abc&utm_source=newsletter&utm_campaign=june", "google_ads", "gclid", "june"),
        ("?fbclid=F1", "meta", "fbclid", "spring"),
        ("?ttclid=T1", "tiktok", "ttclid", "spring"),
        ("?wbraid=W1", "google_ads", "wbraid", "spring"),
        ("?utm_source=Newsletter", "newsletter", None, "spring"),
        ("", "influencer", None, "spring"),
    ]
    for query, network, param, campaign in cases:
        response = await click(client, link["code"], IPHONE_UA, query)
        row = await _app_click(app, click_id_of(response))
        assert (row.network, row.ad_click_param, row.campaign) == (network, param, campaign), query
    first = await _app_click(
        app, click_id_of(await click(client, link["code"], IPHONE_UA, cases[0][0]))
    )
    assert first.ad_click_id == "abc"
    assert first.utm == {"source": "newsletter", "campaign": "june"}
    assert (first.os, first.os_version, first.language) == ("ios", "17.4", "en-US")


async def test_social_preview_bots_get_open_graph(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(
        client,
        key,
        mobile["id"],
        og={"title": "Spring <sale>", "description": "20% off", "image_url": "https://e.com/i.png"},
    )
    bot = await click(client, link["code"], "facebookexternalhit/1.1")
    assert bot.status_code == 200
    assert '<meta property="og:title" content="Spring &lt;sale&gt;">' in bot.text
    assert '<meta property="og:image" content="https://e.com/i.png">' in bot.text
    assert "content-security-policy" in bot.headers
    human = await click(client, link["code"], IPHONE_UA)
    assert human.status_code == 302


async def test_plain_links_keep_their_redirect(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.post(
        "/api/v1/links", json={"destination_url": "https://example.com/p"}, headers=key.headers
    )
    code = response.json()["code"]
    hit = await click(client, code, IPHONE_UA, "?gclid=x")
    assert hit.headers["location"].startswith("https://example.com/p?rk_click=clk_")


async def test_store_changes_reach_cached_links(client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    link = await create_app_link(client, key, mobile["id"])
    await click(client, link["code"], IPHONE_UA)  # cached now
    await client.patch(
        f"/api/v1/apps/{mobile['id']}",
        json={"platforms": {"ios": {"store_url": "https://apps.apple.com/app/id999"}}},
        headers=key.headers,
    )
    moved = await click(client, link["code"], IPHONE_UA)
    assert moved.headers["location"].startswith("https://apps.apple.com/app/id999")
