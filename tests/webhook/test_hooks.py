"""Zapier REST Hooks: subscribe, receive, sample, unsubscribe — through HTTP."""

from __future__ import annotations

import json

import httpx
from standardwebhooks import Webhook

from referkit.worker.runner import Worker
from tests.factories import Key, create_member, create_program
from tests.webhook.receiver import Receiver


async def test_subscribe_receive_and_unsubscribe(
    client: httpx.AsyncClient, key: Key, worker: Worker, receiver: Receiver
) -> None:
    subscribed = await client.post(
        "/api/v1/hooks",
        json={"target_url": receiver.url, "event": "member.created"},
        headers=key.headers,
    )
    assert subscribed.status_code == 201
    hook = subscribed.json()
    assert hook == {"id": hook["id"], "target_url": receiver.url, "event": "member.created"}
    endpoint = (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=key.headers)).json()
    assert (endpoint["source"], endpoint["events"]) == ("zapier", ["member.created"])

    program = await create_program(client, key)  # not subscribed: not sent
    member = await create_member(client, key, program["id"])
    await worker.run_until_idle()
    (received,) = await receiver.wait_for(1)
    body = json.loads(received.body)
    assert (body["type"], body["data"]["id"]) == ("member.created", member["id"])

    gone = await client.delete(f"/api/v1/hooks/{hook['id']}", headers=key.headers)
    assert gone.status_code == 204
    assert (
        await client.delete(f"/api/v1/hooks/{hook['id']}", headers=key.headers)
    ).status_code == 404
    await create_member(client, key, program["id"])
    assert await worker.run_until_idle() == 0


async def test_subscriptions_are_validated(client: httpx.AsyncClient, key: Key) -> None:
    for body in (
        {"target_url": "https://example.com/z", "event": "nope"},
        {"target_url": "gopher://example.com/z", "event": "member.created"},
        {"event": "member.created"},
    ):
        response = await client.post("/api/v1/hooks", json=body, headers=key.headers)
        assert response.status_code == 422, body


async def test_samples_are_recent_real_objects(client: httpx.AsyncClient, key: Key) -> None:
    hook = (
        await client.post(
            "/api/v1/hooks",
            json={"target_url": "https://example.com/zap", "event": "member.created"},
            headers=key.headers,
        )
    ).json()
    empty = await client.get("/api/v1/hooks/samples/member.created", headers=key.headers)
    assert (empty.status_code, empty.json()) == (200, [])
    program = await create_program(client, key)
    made = [await create_member(client, key, program["id"]) for _ in range(4)]
    samples = await client.get("/api/v1/hooks/samples/member.created", headers=key.headers)
    assert samples.status_code == 200
    assert samples.json() == list(reversed(made))[:3]
    unknown = await client.get("/api/v1/hooks/samples/member.exploded", headers=key.headers)
    assert unknown.status_code == 404
    assert hook["id"].startswith("wh_")


async def test_deliveries_to_zapier_are_signed_like_any_other(
    client: httpx.AsyncClient, key: Key, worker: Worker, receiver: Receiver
) -> None:
    hook = (
        await client.post(
            "/api/v1/hooks",
            json={"target_url": receiver.url, "event": "program.created"},
            headers=key.headers,
        )
    ).json()
    rotated = await client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=key.headers)
    await create_program(client, key)
    await worker.run_until_idle()
    (received,) = await receiver.wait_for(1)
    payload = Webhook(rotated.json()["secret"]).verify(received.body, received.headers)
    assert payload["type"] == "program.created"
