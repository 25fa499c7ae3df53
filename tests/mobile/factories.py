"""Mobile factories: apps, client keys and app links through the HTTP API."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.factories import Key

_counter = itertools.count(1)
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Mobile Safari/537.36"
)
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
FINGERPRINT = ":".join(["AB"] * 32)


async def create_app(client: httpx.AsyncClient, key: Key, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"App {next(_counter)}",
        "deep_link_scheme": "example",
        "platforms": {
            "ios": {
                "bundle_id": "com.example.app",
                "app_store_id": "123456789",
                "team_id": "ABCDE12345",
            },
            "android": {"package": "com.example.app", "sha256_cert_fingerprints": [FINGERPRINT]},
            "web": {"url": "https://example.com/app"},
        },
    }
    body.update(fields)
    response = await client.post("/api/v1/apps", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def create_app_link(
    client: httpx.AsyncClient, key: Key, app_id: str, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "deep_link_path": "/product/42",
        "deep_link_params": {"coupon": "SPRING"},
        "network": "influencer",
        "campaign": "spring",
    }
    body.update(fields)
    response = await client.post(f"/api/v1/apps/{app_id}/links", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def client_key(client: httpx.AsyncClient, key: Key, app_id: str) -> dict[str, str]:
    response = await client.post(f"/api/v1/apps/{app_id}/client-keys", headers=key.headers)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


async def click(
    client: httpx.AsyncClient, code: str, user_agent: str = IPHONE_UA, query: str = ""
) -> httpx.Response:
    """A visit to ``/r/{code}``; answers the 302 (or page) without following it."""
    return await client.get(
        f"/r/{code}{query}",
        headers={"user-agent": user_agent, "accept-language": "en-US,en;q=0.9"},
    )


def click_id_of(response: httpx.Response) -> str:
    location = response.headers["location"]
    marker = "rk_click%3D" if "rk_click%3D" in location else "rk_click="
    return location.split(marker, 1)[1].split("&", 1)[0]
