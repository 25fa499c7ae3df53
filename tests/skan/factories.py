"""SKAN factories: an app with its own App Store id, a schema, an install and its events."""

from __future__ import annotations

import itertools
import random
from typing import Any

import httpx

from tests.factories import Key
from tests.mobile.factories import create_app

_orders = itertools.count(1)

SCHEMA: dict[str, Any] = {
    "currency": "USD",
    "fine": [
        {"value": 0, "event": "install"},
        {"value": 1, "event": "signup"},
        {"value": 10, "event": "purchase", "revenue": {"min": 0, "max": 1000}},
        {"value": 20, "event": "purchase", "revenue": {"min": 1000, "max": 5000}},
        {"value": 30, "event": "purchase", "revenue": {"min": 5000}},
    ],
    "coarse": {
        "window_1": [
            {"value": "low", "event": "install"},
            {"value": "high", "event": "purchase"},
        ],
        "window_2": [{"value": "medium", "event": "purchase"}],
        "window_3": [{"value": "high", "event": "purchase", "min_count": 2}],
    },
    "locks": [{"window": 1, "event": "purchase", "min_count": 2}],
}


async def skan_app(client: httpx.AsyncClient, key: Key) -> dict[str, Any]:
    store_id = str(random.randint(10**8, 10**10))
    return await create_app(
        client,
        key,
        platforms={"ios": {"bundle_id": "com.example.skan", "app_store_id": store_id}},
    )


async def put_schema(
    client: httpx.AsyncClient, key: Key, app_id: str, schema: dict[str, Any] | None = None
) -> httpx.Response:
    return await client.put(
        f"/api/v1/apps/{app_id}/skan", json=schema or SCHEMA, headers=key.headers
    )


async def install(client: httpx.AsyncClient, key: Key, app_id: str) -> str:
    response = await client.post(
        f"/api/v1/apps/{app_id}/installs",
        json={"device": {"os": "ios", "idfv": f"idfv-{random.random()}"}},
        headers=key.headers,
    )
    assert response.status_code == 201, response.text
    install_id: str = response.json()["install_id"]
    return install_id


async def app_event(
    client: httpx.AsyncClient, key: Key, app_id: str, install_id: str, type: str, **fields: Any
) -> None:
    body = {
        "event_id": f"skan-{next(_orders)}-{random.random()}",
        "type": type,
        "app_id": app_id,
        "install_id": install_id,
        **fields,
    }
    response = await client.post("/api/v1/events", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
