"""The attributed point: a webhook message and every subscriber, in the event's transaction;
organic installs pass neither."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.mobile import hooks
from tests.factories import Key
from tests.mobile.factories import ANDROID_UA, click, click_id_of, create_app, create_app_link
from tests.webhook.conftest import messages, subscribe

URL = "https://hooks.example.com/referkit"


@pytest.fixture
def heard() -> Iterator[list[hooks.Attributed]]:
    seen: list[hooks.Attributed] = []

    async def subscriber(session: AsyncSession, what: hooks.Attributed) -> None:
        seen.append(what)

    hooks.on_attributed(subscriber)
    yield seen
    hooks._subscribers.remove(subscriber)


async def test_attributed_installs_reach_webhooks_and_subscribers(
    client: httpx.AsyncClient, key: Key, heard: list[hooks.Attributed]
) -> None:
    hook = await subscribe(client, key, URL, ["event.attributed"])
    mobile = await create_app(client, key)
    link = await create_app_link(client, key, mobile["id"])
    click_id = click_id_of(await click(client, link["code"], ANDROID_UA))
    organic = await client.post(
        f"/api/v1/apps/{mobile['id']}/installs",
        json={"device": {"os": "android", "ip": "203.0.113.50"}},
        headers=key.headers,
    )
    assert organic.json()["attribution"]["method"] == "organic"
    attributed = await client.post(
        f"/api/v1/apps/{mobile['id']}/installs",
        json={"device": {"os": "android"}, "install_referrer": f"rk_click={click_id}"},
        headers=key.headers,
    )
    install_id = attributed.json()["install_id"]
    sent = await messages(client, key, hook["id"])
    assert [m["event_type"] for m in sent] == ["event.attributed"]
    assert sent[0]["payload"]["data"]["id"] == install_id
    assert [(w.app.id, w.event.id) for w in heard] == [(mobile["id"], install_id)]
