"""Rewards and attributed events write their webhook messages in the same transaction."""

from __future__ import annotations

import httpx

from tests.factories import Key, create_member, create_program
from tests.webhook.conftest import messages, subscribe

URL = "https://hooks.example.com/referkit"


async def test_reward_and_event_messages(client: httpx.AsyncClient, key: Key) -> None:
    hook = await subscribe(
        client, key, URL, ["reward.created", "reward.issued", "event.attributed"]
    )
    rules = [
        {
            "recipient": "referrer",
            "trigger": "referral_qualified",
            "kind": "cash",
            "amount": 1500,
            "currency": "USD",
        }
    ]
    program = await create_program(client, key, reward_rules=rules)
    member = await create_member(client, key, program["id"])
    signup = await client.post(
        "/api/v1/events",
        json={
            "event_id": "signup-1",
            "type": "signup",
            "referral_code": member["referral_code"],
            "customer": {"external_id": "cust_1", "email": "new@example.com"},
        },
        headers=key.headers,
    )
    assert signup.status_code == 201, signup.text
    purchase = await client.post(
        "/api/v1/events",
        json={
            "event_id": "order-1",
            "type": "purchase",
            "customer": {"external_id": "cust_1"},
            "amount": 4000,
            "currency": "USD",
        },
        headers=key.headers,
    )
    assert purchase.status_code == 201, purchase.text
    reward = (
        await client.get("/api/v1/rewards", params={"member_id": member["id"]}, headers=key.headers)
    ).json()["data"][0]
    await client.post(
        f"/api/v1/rewards/{reward['id']}/issue", json={"override_hold": True}, headers=key.headers
    )
    sent = await messages(client, key, hook["id"], limit=50)
    types = sorted(m["event_type"] for m in sent)
    assert types == ["event.attributed", "event.attributed", "reward.created", "reward.issued"]
    issued = next(m for m in sent if m["event_type"] == "reward.issued")
    assert issued["payload"]["data"]["id"] == reward["id"]
    assert issued["payload"]["data"]["status"] == "issued"
