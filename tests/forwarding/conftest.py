"""Fixtures for forwarding tests: one loopback server stands in for every ad network (the
base URL settings point at it), a clock the test moves, and a worker the test drives."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from referkit.config import Settings
from referkit.models import IntegrationForward, WebhookMessage
from referkit.worker.runner import Worker
from tests.conftest import behind_pgbouncer
from tests.factories import Key
from tests.forwarding.receiver import Networks, networks_running
from tests.mobile.factories import ANDROID_UA, click, click_id_of, create_app_link
from tests.webhook.conftest import Clock

TOKEN = "EAAB-very-secret-token/+="


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def networks() -> Iterator[Networks]:
    with networks_running() as running:
        yield running


@pytest.fixture
def settings(database_url: str, tmp_path: Path, networks: Networks) -> Settings:
    return Settings(
        database_url=database_url,
        database_pgbouncer=behind_pgbouncer(database_url),
        data_dir=tmp_path,
        base_url="http://testserver",
        secret_key="test-secret-key-" + "x" * 32,
        worker_in_process=False,
        webhook_allow_private_targets=True,
        meta_base_url=networks.base,
        google_ads_base_url=networks.base + "/gads",
        tiktok_base_url=networks.base + "/tt",
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def worker(app: FastAPI, settings: Settings, clock: Clock, key: Key) -> AsyncIterator[Worker]:
    """A worker for this test: what earlier tests left pending elsewhere is parked first."""
    async with app.state.sessions.transaction() as session:
        for table in (IntegrationForward, WebhookMessage):
            await session.execute(
                update(table)
                .where(table.status == "pending", table.workspace_id != key.workspace_id)
                .values(status="failed", next_attempt_at=None)
            )
    driven = Worker(app.state.sessions, settings, clock=clock, rng=random.Random(5))
    try:
        yield driven
    finally:
        await driven.aclose()


async def configure(
    client: httpx.AsyncClient, key: Key, app_id: str, network: str, **fields: Any
) -> dict[str, Any]:
    body = {"data": [{"network": network, "enabled": True, **fields}]}
    response = await client.put(
        f"/api/v1/apps/{app_id}/integrations", json=body, headers=key.headers
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def attributed_install(
    client: httpx.AsyncClient, key: Key, app_id: str, query: str = ""
) -> str:
    """An Android install credited to a click on a new app link (``query`` adds ad ids)."""
    link = await create_app_link(client, key, app_id)
    click_id = click_id_of(await click(client, link["code"], ANDROID_UA, query))
    response = await client.post(
        f"/api/v1/apps/{app_id}/installs",
        json={
            "device": {"os": "android", "ip": "203.0.113.9", "user_agent": ANDROID_UA},
            "install_referrer": f"rk_click={click_id}",
        },
        headers=key.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["attribution"]["click_id"] == click_id
    install_id: str = response.json()["install_id"]
    return install_id


async def purchase(
    client: httpx.AsyncClient, key: Key, app_id: str, install_id: str, event_id: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/events",
        json={
            "event_id": event_id,
            "type": "purchase",
            "app_id": app_id,
            "install_id": install_id,
            "amount": 2500,
            "currency": "USD",
            "customer": {"email": " Ann@Example.com ", "external_id": "user-42"},
            "ip": "203.0.113.9",
            "user_agent": ANDROID_UA,
        },
        headers=key.headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def log(
    client: httpx.AsyncClient, key: Key, app_id: str, network: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/apps/{app_id}/integrations/{network}/log", headers=key.headers
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data
