"""Fixtures for webhook tests: a loopback receiver, a clock tests can move, and a worker the
test drives (the app's in-process worker is off unless a test turns it on)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from referkit.config import Settings
from referkit.kit.time import utcnow
from referkit.models import WebhookMessage
from referkit.worker.runner import Worker
from tests.factories import Key
from tests.webhook.receiver import Receiver, receiving


class Clock:
    """Real time plus an offset the test moves forward (the retry schedule spans a day)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def park_backlog(app: FastAPI, key: Key) -> None:
    """Like a production worker, a test's worker serves every workspace, so messages earlier
    tests left pending (due once the clock moves on) are parked first: what it sends is then
    this test's own."""
    async with app.state.sessions.transaction() as session:
        await session.execute(
            update(WebhookMessage)
            .where(
                WebhookMessage.status == "pending",
                WebhookMessage.workspace_id != key.workspace_id,
            )
            .values(status="failed", next_attempt_at=None)
        )


@pytest.fixture
async def worker(app: FastAPI, settings: Settings, clock: Clock, key: Key) -> AsyncIterator[Worker]:
    """A worker for the test to drive (see ``park_backlog``)."""
    await park_backlog(app, key)
    driven = Worker(app.state.sessions, settings, clock=clock, rng=random.Random(5))
    try:
        yield driven
    finally:
        await driven.aclose()


async def subscribe(
    client: httpx.AsyncClient, key: Key, url: str, events: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, **fields}
    if events is not None:
        body["events"] = events
    response = await client.post("/api/v1/webhooks", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def messages(
    client: httpx.AsyncClient, key: Key, webhook_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/webhooks/{webhook_id}/messages", params=params, headers=key.headers
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data
