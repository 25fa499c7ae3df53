"""Reward rollups follow every reward change in the transaction that makes it: after creating,
holding, issuing, cancelling and reversing rewards (through requests and event batches), the
rollup rows equal the rewards stored, counted afresh by creation day, unit and status."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referkit.db.session import SessionFactory
from referkit.models import Reward, RewardRollup
from referkit.stats.reward_rollups import REWARD_COUNTERS, creation_day
from tests.factories import Key, create_member
from tests.reward.test_engine import example_program, purchase, refer, rewards_of


def _unit(reward: Reward) -> str:
    return reward.currency or ("points" if reward.kind == "points" else reward.kind)


async def _counted(app: FastAPI, workspace_id: str) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """(rollup rows, the same counters recomputed from the rewards) of the workspace."""
    sessions: SessionFactory = app.state.sessions
    async with sessions.transaction() as session:
        rollups = (
            await session.scalars(
                select(RewardRollup).where(RewardRollup.workspace_id == workspace_id)
            )
        ).all()
        rewards = (
            await session.scalars(select(Reward).where(Reward.workspace_id == workspace_id))
        ).all()
    stored = {
        (r.program_id, r.day, r.unit): {name: getattr(r, name) for name in REWARD_COUNTERS}
        for r in rollups
        if any(getattr(r, name) for name in REWARD_COUNTERS)
    }
    fresh: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(REWARD_COUNTERS, 0))
    for reward in rewards:
        row = fresh[(reward.program_id, creation_day(reward.created_at).isoformat(), _unit(reward))]
        row[f"{reward.status}_count"] += 1
        row[f"{reward.status}_amount"] += reward.amount or 0
    return stored, dict(fresh)


async def test_rollups_equal_the_rewards_after_every_kind_of_change(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    program = await example_program(client, key)
    member = await create_member(client, key, program["id"])
    cash = []
    for n in (501, 502, 503):
        referral = await refer(client, key, member["referral_code"], n)
        await purchase(client, key, f"cust_{n}", 6000, f"order-{n}")  # batch path: qualifies
        rewards = await rewards_of(client, key, referral_id=referral["id"])
        cash += [r for r in rewards if r["kind"] == "cash"]
    assert len(cash) == 3
    issued = await client.post(
        f"/api/v1/rewards/{cash[0]['id']}/issue", json={"override_hold": True}, headers=key.headers
    )
    assert issued.status_code == 200, issued.text
    cancelled = await client.post(f"/api/v1/rewards/{cash[1]['id']}/cancel", headers=key.headers)
    assert cancelled.status_code == 200, cancelled.text
    refund = await client.post(
        "/api/v1/events",
        json={
            "event_id": "refund-501",
            "type": "refund",
            "refunded_event_id": "order-501",
            "customer": {"external_id": "cust_501"},
        },
        headers=key.headers,
    )
    assert refund.status_code in (200, 201), refund.text
    points = await client.post(
        "/api/v1/rewards",
        json={"member_id": member["id"], "kind": "points", "amount": 50},
        headers=key.headers,
    )
    assert points.status_code == 201, points.text

    stored, fresh = await _counted(app, key.workspace_id)
    assert stored == fresh
    day = datetime.fromisoformat(cash[0]["created_at"]).date().isoformat()
    usd = stored[(program["id"], day, "USD")]
    # The first issued then reversed by the refund, the second cancelled, the third pending.
    assert (usd["reversed_count"], usd["reversed_amount"]) == (1, 2000)
    assert (usd["cancelled_count"], usd["pending_count"], usd["issued_count"]) == (1, 1, 0)
    assert stored[(program["id"], day, "points")]["pending_amount"] == 50
