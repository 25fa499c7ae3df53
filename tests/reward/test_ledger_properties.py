"""Hypothesis: whatever sequence of referral events happens, the ledger explains every reward.

Invariants after each step: per member and unit, the ledger's pending sum equals the amounts of
pending rewards and its issued sum those of issued rewards; no rule pays more often than its cap;
no reward exists for a self-referral (it is refused) and none is pending or issued for a denied
referral; replaying a step changes nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from referkit.app import create_app
from referkit.config import Settings
from tests.conftest import TEST_BASE_URL
from tests.factories import create_member, create_program, new_key

RULES = [
    {
        "recipient": "referrer",
        "trigger": "referral_created",
        "kind": "points",
        "amount": 5,
        "max_per_member": 3,
    },
    {
        "recipient": "referrer",
        "trigger": "referral_qualified",
        "kind": "cash",
        "amount": 2000,
        "currency": "USD",
        "hold_days": 14,
    },
    {
        "recipient": "referee",
        "trigger": "referral_qualified",
        "kind": "credit",
        "amount": 500,
        "currency": "USD",
    },
    {
        "recipient": "referrer",
        "trigger": "milestone",
        "milestone_count": 2,
        "kind": "cash",
        "amount": 10000,
        "currency": "USD",
    },
]

steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["refer", "self", "qualified", "approved", "denied", "pending", "issue", "cancel"]
        ),
        st.integers(min_value=0, max_value=3),
    ),
    min_size=1,
    max_size=14,
)


async def _check(client: httpx.AsyncClient, headers: dict[str, str], member_id: str) -> None:
    rewards = (
        await client.get(
            "/api/v1/rewards", params={"member_id": member_id, "limit": 100}, headers=headers
        )
    ).json()["data"]
    expected: dict[str, list[int]] = {}
    for reward in rewards:
        if reward["recipient"] != "referrer":
            continue
        unit = reward["currency"] or "points"
        sums = expected.setdefault(unit, [0, 0])
        if reward["status"] == "pending":
            sums[0] += reward["amount"]
        elif reward["status"] == "issued":
            sums[1] += reward["amount"]
    balances = (await client.get(f"/api/v1/members/{member_id}/balances", headers=headers)).json()[
        "data"
    ]
    actual = {b["unit"]: [b["pending"], b["issued"]] for b in balances}
    # Units whose rewards were all cancelled keep a zero balance row.
    assert actual == {**{unit: [0, 0] for unit in actual}, **expected}
    points = [r for r in rewards if r["kind"] == "points" and r["status"] != "cancelled"]
    assert len(points) <= 3
    milestones = [r for r in rewards if r["amount"] == 10000]
    assert len(milestones) <= 1
    referrals = {
        r["id"]: r
        for r in (
            await client.get(
                "/api/v1/referrals", params={"member_id": member_id, "limit": 100}, headers=headers
            )
        ).json()["data"]
    }
    for reward in rewards:
        referral = referrals.get(reward["referral_id"])
        if referral and referral["status"] == "denied" and reward["amount"] != 10000:
            assert reward["status"] in ("cancelled", "issued", "reversed")


async def _run(app_settings: Settings, script: list[tuple[str, int]]) -> None:
    app = create_app(app_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=TEST_BASE_URL) as client:
            key = await new_key(app)
            program = await create_program(client, key, reward_rules=RULES)
            member = await create_member(client, key, program["id"], email="ref@example.com")
            referrals: list[str] = []
            for action, index in script:
                await _step(client, key.headers, member, referrals, action, index)
                await _check(client, key.headers, member["id"])
                # Replaying the same step changes nothing that the invariants could miss.
                await _step(client, key.headers, member, referrals, action, index, replay=True)
                await _check(client, key.headers, member["id"])


async def _step(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    member: dict[str, Any],
    referrals: list[str],
    action: str,
    index: int,
    *,
    replay: bool = False,
) -> None:
    if action in ("refer", "self"):
        email = (
            "REF+x@example.com" if action == "self" else f"f{len(referrals) - replay}@example.com"
        )
        answer = await client.post(
            "/api/v1/referrals",
            json={"referral_code": member["referral_code"], "referee": {"email": email}},
            headers=headers,
        )
        if action == "self":
            assert answer.status_code == 422
        elif not replay:
            assert answer.status_code == 201
            referrals.append(answer.json()["id"])
        else:
            assert answer.status_code == 409
        return
    if not referrals:
        return
    referral_id = referrals[index % len(referrals)]
    if action in ("qualified", "approved", "denied", "pending"):
        answer = await client.patch(
            f"/api/v1/referrals/{referral_id}", json={"status": action}, headers=headers
        )
        assert answer.status_code in (200, 409)
        return
    rewards = (
        await client.get("/api/v1/rewards", params={"referral_id": referral_id}, headers=headers)
    ).json()["data"]
    for reward in rewards:
        path = "issue" if action == "issue" else "cancel"
        body = {"override_hold": True} if action == "issue" else {}
        answer = await client.post(
            f"/api/v1/rewards/{reward['id']}/{path}", json=body, headers=headers
        )
        assert answer.status_code in (200, 409), answer.text


@hypothesis_settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=steps)
def test_ledger_always_explains_rewards(settings: Settings, script: list[tuple[str, int]]) -> None:
    asyncio.run(_run(settings, script))
