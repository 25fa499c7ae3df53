"""The association files, in Apple's and Google's documented shapes."""

from __future__ import annotations

import re

import httpx

from referkit.auth.principal import Mode
from tests.factories import Key, new_key
from tests.mobile.factories import FINGERPRINT, create_app

_APP_ID = re.compile(r"^[A-Z0-9]{10}\.[A-Za-z0-9.-]+$")
_FINGERPRINT = re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")


async def test_apple_app_site_association(app: object, client: httpx.AsyncClient, key: Key) -> None:
    await create_app(
        client,
        key,
        platforms={"ios": {"bundle_id": "com.acme.shop", "team_id": "TEAM123456"}},
        link_domain="testserver",
    )
    await create_app(
        client,
        key,
        platforms={"ios": {"bundle_id": "com.acme.elsewhere", "team_id": "TEAM123456"}},
        link_domain="links.elsewhere.example",
    )
    test_key = await new_key(app, mode=Mode.test)  # type: ignore[arg-type]
    await create_app(
        client, test_key, platforms={"ios": {"bundle_id": "com.acme.test", "team_id": "TEAM123456"}}
    )
    response = await client.get("/.well-known/apple-app-site-association")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"applinks"}
    (detail,) = body["applinks"]["details"]
    assert set(detail) == {"appIDs", "components"}
    assert all(_APP_ID.match(app_id) for app_id in detail["appIDs"])
    assert "TEAM123456.com.acme.shop" in detail["appIDs"]
    assert "TEAM123456.com.acme.elsewhere" not in detail["appIDs"]
    assert "TEAM123456.com.acme.test" not in detail["appIDs"]
    assert {"/": "/r/*"} in detail["components"]


async def test_assetlinks(client: httpx.AsyncClient, key: Key) -> None:
    await create_app(
        client,
        key,
        platforms={
            "android": {
                "package": "com.acme.shop",
                "sha256_cert_fingerprints": [FINGERPRINT.lower()],
            }
        },
    )
    response = await client.get("/.well-known/assetlinks.json")
    assert response.status_code == 200
    statements = response.json()
    assert isinstance(statements, list)
    mine = [s for s in statements if s["target"]["package_name"] == "com.acme.shop"]
    assert mine
    for statement in statements:
        assert statement["relation"] == ["delegate_permission/common.handle_all_urls"]
        assert statement["target"]["namespace"] == "android_app"
        assert all(_FINGERPRINT.match(f) for f in statement["target"]["sha256_cert_fingerprints"])
