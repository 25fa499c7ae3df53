"""The embed page, loader and assets over HTTP: content, framing rules (CSP), friendly pages,
theming, caching. The browser behaviour is tested in tests/e2e/embed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Query

from referkit.config import Settings
from referkit.embed import tokens
from referkit.embed.views import contrast, format_amount, mask_email, palette
from referkit.errors import install_error_handlers
from referkit.program.schemas import EmbedSettings
from tests.factories import Key, create_member, create_program, create_referral

HOST = "https://shop.example.com"


async def token_for(client: httpx.AsyncClient, key: Key, member_id: str) -> str:
    response = await client.post(f"/api/v1/members/{member_id}/embed-token", headers=key.headers)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def page(client: httpx.AsyncClient, token: str, **params: str) -> httpx.Response:
    return await client.get("/embed/referrer", params={"token": token, **params})


def csp(response: httpx.Response) -> dict[str, str]:
    parts = (
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


@pytest.fixture
async def member(client: httpx.AsyncClient, key: Key) -> dict[str, Any]:
    program = await create_program(
        client,
        key,
        name="Give $20",
        allowed_origins=[HOST, "http://localhost:3000"],
        embed={"theme": "dark", "accent": "#ff6600", "radius": 4, "font": "Inter"},
    )
    return await create_member(client, key, program["id"], email="jane@example.com", name="Jane")


async def test_the_page_shows_the_members_dashboard(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any]
) -> None:
    await create_referral(client, key, member["referral_code"], email="sam@example.com")
    response = await page(client, await token_for(client, key, member["id"]))
    assert response.status_code == 200, response.text
    html = response.text
    assert response.headers["content-type"].startswith("text/html")
    assert member["referral_link"] in html
    assert 'id="rk-copy"' in html
    assert "s***@example.com" in html
    assert "sam@example.com" not in html
    assert 'data-stat="referrals">1<' in html
    assert "<svg" in html
    assert 'aria-label="QR code of your referral link"' in html
    for network in ("wa.me", "x.com/intent", "linkedin.com", "facebook.com", "mailto:", "sms:"):
        assert network in html
    assert 'data-empty="rewards"' in html  # no rewards yet: the empty state
    assert "Give $20" in html
    assert "set-cookie" not in response.headers  # works without third-party cookies
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_only_allowed_origins_may_frame_the_page(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any]
) -> None:
    response = await page(client, await token_for(client, key, member["id"]))
    policy = csp(response)
    assert policy["frame-ancestors"].split() == ["http://localhost:3000", HOST]
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert "x-frame-options" not in response.headers  # DENY would override the allow list
    nonce = re.search(r"'nonce-([^']+)'", policy["style-src"])
    assert nonce
    assert f'<style nonce="{nonce.group(1)}">' in response.text

    lonely = await create_program(client, key)
    other = await create_member(client, key, lonely["id"])
    closed = await page(client, await token_for(client, key, other["id"]))
    assert closed.status_code == 200
    assert csp(closed)["frame-ancestors"] == "'none'"
    assert closed.headers["x-frame-options"] == "DENY"
    # Other pages keep DENY.
    assert (await client.get("/healthz")).headers["x-frame-options"] == "DENY"


async def test_friendly_pages_for_expired_revoked_and_invalid_tokens(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any], settings: Settings
) -> None:
    claims = tokens.new_claims(
        workspace_id=key.workspace_id,
        livemode=True,
        program_id=member["program_id"],
        member_id=member["id"],
        now=datetime.now(UTC) - timedelta(days=2),
        ttl_seconds=86_400,
    )
    expired = await page(client, tokens.sign(claims, tokens.derive_key(settings.signing_key)))
    assert expired.status_code == 401
    assert "This page has expired" in expired.text
    assert member["referral_link"] not in expired.text
    # Still framed by the host, so the visitor sees this page rather than a browser error.
    assert HOST in csp(expired)["frame-ancestors"]

    for bad in ("", "rke1.garbage.sig"):
        invalid = await page(client, bad)
        assert invalid.status_code == 401
        assert "not valid" in invalid.text
        assert csp(invalid)["frame-ancestors"] == "'none'"

    token = await token_for(client, key, member["id"])
    await client.delete(f"/api/v1/members/{member['id']}", headers=key.headers)
    revoked = await page(client, token)
    assert revoked.status_code == 401
    assert "not available" in revoked.text


async def test_theme_from_program_settings_and_mount_overrides(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any]
) -> None:
    token = await token_for(client, key, member["id"])
    styled = (await page(client, token)).text
    assert 'data-theme="dark"' in styled
    assert "--rk-accent:#ff6600;" in styled
    assert "--rk-radius:4px;" in styled
    assert '--rk-font:"Inter"' in styled
    light = (await page(client, token, theme="light", accent="#123456", radius="12")).text
    assert 'data-theme="light"' in light
    assert "--rk-accent:#123456;" in light
    assert "--rk-radius:12px;" in light
    auto = (await page(client, token, theme="auto")).text
    assert "prefers-color-scheme: dark" in auto
    # Invalid overrides are ignored; nothing they carry reaches the stylesheet.
    hostile = await page(
        client, token, accent="red;}body{x", font="a</style><script>", theme="neon", radius="x"
    )
    assert hostile.status_code == 200
    assert "--rk-accent:#ff6600;" in hostile.text
    assert "<script>" not in hostile.text
    assert 'data-theme="dark"' in hostile.text


async def test_host_origin_for_messages_must_be_allowed(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any]
) -> None:
    token = await token_for(client, key, member["id"])
    ok = await page(client, token, origin=HOST)
    assert f'data-parent-origin="{HOST}"' in ok.text
    evil = await page(client, token, origin="https://evil.example.net")
    assert 'data-parent-origin=""' in evil.text


async def test_program_embed_settings_are_validated_and_merged(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, embed={"accent": "#abc"})
    assert program["embed"] == {
        "theme": "auto",
        "accent": "#abc",
        "background": None,
        "radius": None,
        "font": None,
    }
    url = f"/api/v1/programs/{program['id']}"
    patched = await client.patch(url, json={"embed": {"theme": "light"}}, headers=key.headers)
    assert patched.json()["embed"]["theme"] == "light"
    assert patched.json()["embed"]["accent"] == "#abc"
    for bad in ({"accent": "red"}, {"radius": 99}, {"font": "x;y"}, {"theme": "neon"}):
        refused = await client.patch(url, json={"embed": bad}, headers=key.headers)
        assert refused.status_code == 422, bad


async def test_loader_and_assets_are_cacheable(client: httpx.AsyncClient) -> None:
    loader = await client.get("/embed/referkit.js")
    assert loader.status_code == 200
    assert loader.headers["content-type"].startswith("text/javascript")
    assert "Referkit" in loader.text
    assert "postMessage" not in loader.text.split("mount")[0]
    assert loader.headers["cache-control"] == "public, max-age=3600"
    for name in ("embed.css", "frame.js"):
        asset = await client.get(f"/embed/assets/{name}")
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]
    missing = await client.get("/embed/assets/secret_key")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_presentation_helpers() -> None:
    assert mask_email("sam@example.com") == "s***@example.com"
    assert mask_email(None) == "A friend"
    assert format_amount(2500, "USD") == "25.00 USD"
    assert format_amount(2500, "JPY") == "2,500 JPY"
    assert format_amount(40, "points") == "40 points"
    for dark in (False, True):
        for accent, background in (("#ffff00", "#ffffff"), ("#000080", "#000000"), (None, None)):
            colours = palette(dark, EmbedSettings(accent=accent, background=background))
            assert contrast(colours.fg, colours.bg) >= 4.5
            assert contrast(colours.muted, colours.bg) >= 4.5
            assert contrast(colours.on_accent, colours.accent) >= 4.5


async def test_too_long_parameters_answer_as_declared_query_parameters(
    client: httpx.AsyncClient,
) -> None:
    """The page reads its query itself; a value over its limit answers exactly what a
    ``Query(max_length=…)`` parameter of FastAPI answers."""
    reference = FastAPI()
    install_error_handlers(reference)

    @reference.get("/embed/referrer")
    async def declared(
        token: str = Query(default="", max_length=4096),
        theme: str | None = Query(default=None, max_length=200),
        accent: str | None = Query(default=None, max_length=200),
        background: str | None = Query(default=None, max_length=200),
        radius: str | None = Query(default=None, max_length=200),
        font: str | None = Query(default=None, max_length=200),
        origin: str | None = Query(default=None, max_length=300),
    ) -> dict[str, str]:
        return {}

    transport = httpx.ASGITransport(app=reference)
    async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as other:
        for params in (
            {"token": "x" * 4097},
            {"token": "t", "theme": "d" * 201, "origin": "o" * 301},
            {"font": "é" * 201, "radius": "9" * 201},
        ):
            ours = await client.get("/embed/referrer", params=params)
            theirs = await other.get("/embed/referrer", params=params)
            assert ours.status_code == theirs.status_code == 422
            assert ours.headers["content-type"] == theirs.headers["content-type"]
            assert ours.json() == theirs.json()
