"""The reward engine end to end through HTTP: the example program of the reward issue."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.factories import Key, create_member, create_program

_ids = itertools.count(1)

EXAMPLE_RULES = [
    {
        "recipient": "referrer",
        "trigger": "referral_qualified",
        "kind": "cash",
        "amount": 2000,
        "currency": "USD",
        "hold_days": 14,
        "max_per_member": 50,
        "description": "$20 per friend who buys",
    },
    {
        "recipient": "referee",
        "trigger": "referral_qualified",
        "kind": "coupon",
        "coupon_pool": "WELCOME",
        "description": "A welcome coupon",
    },
    {
        "recipient": "referrer",
        "trigger": "milestone",
        "milestone_count": 10,
        "kind": "cash",
        "amount": 10000,
        "currency": "USD",
        "description": "$100 at 10 qualified friends",
    },
]


async def example_program(client: httpx.AsyncClient, key: Key, **extra: Any) -> dict[str, Any]:
    return await create_program(
        client,
        key,
        qualification={"event": "purchase", "min_amount": 5000, "currency": "USD"},
        reward_rules=EXAMPLE_RULES,
        **extra,
    )


async def refer(
    client: httpx.AsyncClient, key: Key, code: str, n: int | None = None
) -> dict[str, Any]:
    n = n or next(_ids)
    response = await client.post(
        "/api/v1/referrals",
        json={
            "referral_code": code,
            "referee": {"email": f"friend{n}@example.com", "external_id": f"cust_{n}"},
        },
        headers=key.headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def purchase(
    client: httpx.AsyncClient, key: Key, customer: str, amount: int, event_id: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/events",
        json={
            "event_id": event_id,
            "type": "purchase",
            "customer": {"external_id": customer},
            "amount": amount,
            "currency": "USD",
        },
        headers=key.headers,
    )
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def rewards_of(client: httpx.AsyncClient, key: Key, **filters: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/rewards", params={**filters, "limit": "100"}, headers=key.headers
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_qualifying_purchase_pays_both_sides_with_hold(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await example_program(client, key)
    upload = await client.post(
        f"/api/v1/programs/{program['id']}/coupon-pools/WELCOME/codes",
        json={"codes": ["WELCOME-1", "WELCOME-2", "WELCOME-1"]},
        headers=key.headers,
    )
    assert upload.json() == {"pool": "WELCOME", "added": 2, "duplicates": 1, "available": 2}
    member = await create_member(client, key, program["id"])
    referral = await refer(client, key, member["referral_code"], 1)
    assert await rewards_of(client, key, referral_id=referral["id"]) == []

    small = await purchase(client, key, "cust_1", 4999, "order-small")
    assert small["outcome"]["not_qualified"]
    assert await rewards_of(client, key, referral_id=referral["id"]) == []

    await purchase(client, key, "cust_1", 6000, "order-1")
    rewards = await rewards_of(client, key, referral_id=referral["id"])
    by_recipient = {r["recipient"]: r for r in rewards}
    assert set(by_recipient) == {"referrer", "referee"}
    cash, coupon = by_recipient["referrer"], by_recipient["referee"]
    assert (cash["kind"], cash["amount"], cash["currency"], cash["status"]) == (
        "cash",
        2000,
        "USD",
        "pending",
    )
    hold = datetime.fromisoformat(cash["eligible_at"]) - datetime.fromisoformat(cash["created_at"])
    assert timedelta(days=14) - timedelta(seconds=5) < hold <= timedelta(days=14)
    assert coupon["kind"] == "coupon"
    assert coupon["coupon_code"] in {"WELCOME-1", "WELCOME-2"}

    # A replayed purchase event pays nothing more.
    await purchase(client, key, "cust_1", 6000, "order-1")
    assert len(await rewards_of(client, key, referral_id=referral["id"])) == 2

    # Held: issuing needs override_hold; then it is issued and the balance moves.
    held = await client.post(f"/api/v1/rewards/{cash['id']}/issue", headers=key.headers)
    assert held.status_code == 409
    assert held.json()["code"] == "invalid_transition"
    issued = await client.post(
        f"/api/v1/rewards/{cash['id']}/issue", json={"override_hold": True}, headers=key.headers
    )
    assert issued.status_code == 200, issued.text
    assert issued.json()["status"] == "issued"
    balances = (
        await client.get(f"/api/v1/members/{member['id']}/balances", headers=key.headers)
    ).json()["data"]
    assert balances == [{"unit": "USD", "pending": 0, "issued": 2000}]
    stats = (await client.get(f"/api/v1/members/{member['id']}/stats", headers=key.headers)).json()
    assert stats["rewards_earned"] == {"amount": 2000, "currency": "USD"}
    assert stats["rewards"] == [{"unit": "USD", "earned": 2000, "pending": 0, "issued": 2000}]


async def test_refund_claws_back_and_denies(client: httpx.AsyncClient, key: Key) -> None:
    program = await example_program(client, key)
    member = await create_member(client, key, program["id"])
    referral = await refer(client, key, member["referral_code"], 2)
    await purchase(client, key, "cust_2", 5000, "order-2")
    cash = next(
        r
        for r in await rewards_of(client, key, referral_id=referral["id"])
        if r["recipient"] == "referrer"
    )
    await client.post(
        f"/api/v1/rewards/{cash['id']}/issue", json={"override_hold": True}, headers=key.headers
    )
    again = await client.post(f"/api/v1/rewards/{cash['id']}/cancel", headers=key.headers)
    assert again.status_code == 409
    assert again.json()["detail"].startswith("An issued reward cannot be cancelled")
    refund = await client.post(
        "/api/v1/events",
        json={
            "event_id": "refund-2",
            "type": "refund",
            "refunded_event_id": "order-2",
            "customer": {"external_id": "cust_2"},
        },
        headers=key.headers,
    )
    assert refund.status_code in (200, 201), refund.text
    rewards = await rewards_of(client, key, referral_id=referral["id"])
    assert {r["status"] for r in rewards} == {"reversed"}
    after = (await client.get(f"/api/v1/referrals/{referral['id']}", headers=key.headers)).json()
    assert after["status"] == "denied"
    balances = (
        await client.get(f"/api/v1/members/{member['id']}/balances", headers=key.headers)
    ).json()["data"]
    assert balances == [{"unit": "USD", "pending": 0, "issued": 0}]
    ledger = (
        await client.get(f"/api/v1/members/{member['id']}/ledger", headers=key.headers)
    ).json()["data"]
    assert [e["kind"] for e in reversed(ledger)] == ["created", "issued", "reversed"]
    assert sum(e["issued_delta"] for e in ledger) == 0


async def test_milestone_fires_once_at_the_nth_qualified_referral(
    client: httpx.AsyncClient, key: Key
) -> None:
    rules = [
        {
            "recipient": "referrer",
            "trigger": "milestone",
            "milestone_count": 3,
            "kind": "cash",
            "amount": 10000,
            "currency": "USD",
        }
    ]
    program = await create_program(client, key, reward_rules=rules)
    member = await create_member(client, key, program["id"])
    referrals = [await refer(client, key, member["referral_code"]) for _ in range(4)]
    for index, referral in enumerate(referrals):
        answer = await client.patch(
            f"/api/v1/referrals/{referral['id']}", json={"status": "qualified"}, headers=key.headers
        )
        assert answer.status_code == 200
        bonuses = await rewards_of(client, key, member_id=member["id"])
        assert len(bonuses) == (1 if index >= 2 else 0)
    assert bonuses[0]["amount"] == 10000


async def test_cap_per_member(client: httpx.AsyncClient, key: Key) -> None:
    rules = [
        {
            "recipient": "referrer",
            "trigger": "referral_created",
            "kind": "points",
            "amount": 10,
            "max_per_member": 2,
        }
    ]
    program = await create_program(client, key, reward_rules=rules)
    member = await create_member(client, key, program["id"])
    for _ in range(4):
        await refer(client, key, member["referral_code"])
    rewards = await rewards_of(client, key, member_id=member["id"])
    assert len(rewards) == 2
    assert {r["kind"] for r in rewards} == {"points"}


async def test_percent_reward_is_rounded_down_and_capped(
    client: httpx.AsyncClient, key: Key
) -> None:
    rules = [
        {
            "recipient": "referrer",
            "trigger": "referral_qualified",
            "kind": "credit",
            "percent": 12.5,
            "max_amount": 1000,
            "currency": "USD",
        }
    ]
    program = await create_program(client, key, reward_rules=rules)
    member = await create_member(client, key, program["id"])
    first = await refer(client, key, member["referral_code"], 3)
    second = await refer(client, key, member["referral_code"], 4)
    await purchase(client, key, "cust_3", 3999, "order-3")  # 12.5% = 499.875 → 499
    await purchase(client, key, "cust_4", 100_000, "order-4")  # 12500 → capped at 1000
    amounts = {
        r["referral_id"]: r["amount"] for r in await rewards_of(client, key, member_id=member["id"])
    }
    assert amounts == {first["id"]: 499, second["id"]: 1000}


async def test_pending_approved_fires_qualified_rules(client: httpx.AsyncClient, key: Key) -> None:
    rules = [
        {
            "recipient": "referrer",
            "trigger": "referral_qualified",
            "kind": "cash",
            "amount": 500,
            "currency": "EUR",
        }
    ]
    program = await create_program(client, key, reward_rules=rules)
    member = await create_member(client, key, program["id"])
    referral = await refer(client, key, member["referral_code"])
    await client.patch(
        f"/api/v1/referrals/{referral['id']}", json={"status": "approved"}, headers=key.headers
    )
    rewards = await rewards_of(client, key, referral_id=referral["id"])
    assert [(r["amount"], r["currency"]) for r in rewards] == [(500, "EUR")]


async def test_denied_referral_cancels_pending_rewards(client: httpx.AsyncClient, key: Key) -> None:
    rules = [
        {
            "recipient": "referrer",
            "trigger": "referral_created",
            "kind": "cash",
            "amount": 100,
            "currency": "USD",
        }
    ]
    program = await create_program(client, key, reward_rules=rules)
    member = await create_member(client, key, program["id"])
    referral = await refer(client, key, member["referral_code"])
    await client.patch(
        f"/api/v1/referrals/{referral['id']}", json={"status": "denied"}, headers=key.headers
    )
    rewards = await rewards_of(client, key, referral_id=referral["id"])
    assert [r["status"] for r in rewards] == ["cancelled"]
    cancel_again = await client.post(
        f"/api/v1/rewards/{rewards[0]['id']}/cancel", headers=key.headers
    )
    assert cancel_again.status_code == 409


async def test_empty_coupon_pool_holds_reward(client: httpx.AsyncClient, key: Key) -> None:
    rules = [
        {
            "recipient": "referee",
            "trigger": "referral_created",
            "kind": "coupon",
            "coupon_pool": "EMPTY",
        }
    ]
    program = await create_program(client, key, reward_rules=rules)
    member = await create_member(client, key, program["id"])
    referral = await refer(client, key, member["referral_code"])
    [reward] = await rewards_of(client, key, referral_id=referral["id"])
    assert reward["held_reason"] == "coupon_pool_empty"
    refused = await client.post(
        f"/api/v1/rewards/{reward['id']}/issue", json={"override_hold": True}, headers=key.headers
    )
    assert refused.status_code == 409
    await client.post(
        f"/api/v1/programs/{program['id']}/coupon-pools/EMPTY/codes",
        json={"codes": ["LATE-1"]},
        headers=key.headers,
    )
    issued = await client.post(
        f"/api/v1/rewards/{reward['id']}/issue", json={"override_hold": True}, headers=key.headers
    )
    assert issued.status_code == 200, issued.text
    assert issued.json()["coupon_code"] == "LATE-1"


async def test_concurrent_qualification_pays_once(client: httpx.AsyncClient, key: Key) -> None:
    rules = [
        {
            "recipient": "referrer",
            "trigger": "referral_qualified",
            "kind": "cash",
            "amount": 2000,
            "currency": "USD",
        }
    ]
    program = await create_program(
        client,
        key,
        reward_rules=rules,
        qualification={"event": "purchase", "min_amount": 100, "currency": "USD"},
    )
    member = await create_member(client, key, program["id"])
    referral = await refer(client, key, member["referral_code"], 9)
    answers = await asyncio.gather(
        *(
            client.post(
                "/api/v1/events",
                json={
                    "event_id": f"race-{i}",
                    "type": "purchase",
                    "customer": {"external_id": "cust_9"},
                    "amount": 500,
                    "currency": "USD",
                },
                headers=key.headers,
            )
            for i in range(20)
        )
    )
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    rewards = await rewards_of(client, key, referral_id=referral["id"])
    assert len(rewards) == 1


async def test_manual_reward_and_tenancy(client: httpx.AsyncClient, key: Key, app: Any) -> None:
    from tests.factories import new_key

    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    created = await client.post(
        "/api/v1/rewards",
        json={
            "member_id": member["id"],
            "kind": "credit",
            "amount": 700,
            "currency": "usd",
            "description": "Sorry for the outage",
        },
        headers=key.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["currency"] == "USD"
    other = await new_key(app)
    assert (
        await client.get(f"/api/v1/rewards/{created.json()['id']}", headers=other.headers)
    ).status_code == 404
    bad = await client.post(
        "/api/v1/rewards",
        json={"member_id": member["id"], "kind": "cash", "amount": 700},
        headers=key.headers,
    )
    assert bad.status_code == 422


async def test_worker_auto_issues_when_the_hold_ends(
    client: httpx.AsyncClient, key: Key, app: Any
) -> None:
    from referkit.worker.runner import Worker

    rules = [
        {
            "recipient": "referrer",
            "trigger": "referral_created",
            "kind": "cash",
            "amount": 300,
            "currency": "USD",
            "hold_days": 0,
        },
        {
            "recipient": "referrer",
            "trigger": "referral_qualified",
            "kind": "cash",
            "amount": 900,
            "currency": "USD",
            "hold_days": 30,
        },
    ]
    manual = await create_program(client, key, reward_rules=rules)
    auto = await create_program(client, key, reward_rules=rules, auto_issue=True)
    for program in (manual, auto):
        member = await create_member(client, key, program["id"])
        referral = await refer(client, key, member["referral_code"])
        await client.patch(
            f"/api/v1/referrals/{referral['id']}", json={"status": "qualified"}, headers=key.headers
        )
        program["referral"] = referral["id"]
    worker = Worker(app.state.sessions, app.state.settings)
    try:
        await worker.issue_due_rewards()
    finally:
        await worker.aclose()
    statuses = {}
    for program in (manual, auto):
        rewards = await rewards_of(client, key, referral_id=program["referral"])
        statuses[program["id"]] = sorted((r["amount"], r["status"]) for r in rewards)
    assert statuses[manual["id"]] == [(300, "pending"), (900, "pending")]
    assert statuses[auto["id"]] == [(300, "issued"), (900, "pending")]  # 900 is held 30 days
