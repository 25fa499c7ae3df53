"""Program stats warn about rewards waiting for coupon codes, one warning per pool, until the
rewards are issued; the coupon pool list shows the same waiting counts."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.factories import Key, create_member, create_program


def _coupon_rule(pool: str, recipient: str = "referee") -> dict[str, Any]:
    return {
        "recipient": recipient,
        "trigger": "referral_created",
        "kind": "coupon",
        "coupon_pool": pool,
    }


async def _refer(client: httpx.AsyncClient, key: Key, code: str, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/referrals",
        json={
            "referral_code": code,
            "referee": {"email": f"friend-{uuid.uuid4().hex[:8]}@example.com"},
            **extra,
        },
        headers=key.headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _warnings(client: httpx.AsyncClient, key: Key, program_id: str) -> list[Any]:
    response = await client.get(f"/api/v1/programs/{program_id}/stats", headers=key.headers)
    assert response.status_code == 200, response.text
    warnings: list[Any] = response.json()["warnings"]
    return warnings


async def _pools(client: httpx.AsyncClient, key: Key, program_id: str) -> list[Any]:
    response = await client.get(f"/api/v1/programs/{program_id}/coupon-pools", headers=key.headers)
    assert response.status_code == 200, response.text
    pools: list[Any] = response.json()["data"]
    return pools


async def _rewards(client: httpx.AsyncClient, key: Key, program_id: str) -> list[Any]:
    response = await client.get(
        "/api/v1/rewards", params={"program_id": program_id}, headers=key.headers
    )
    data: list[Any] = response.json()["data"]
    return data


async def test_warning_per_empty_pool_until_the_rewards_are_issued(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(
        client,
        key,
        reward_rules=[_coupon_rule("welcome"), _coupon_rule("thanks", "referrer")],
    )
    pid = program["id"]
    assert await _warnings(client, key, pid) == []
    await client.post(
        f"/api/v1/programs/{pid}/coupon-pools/thanks/codes",
        json={"codes": ["T-1", "T-2", "T-3"]},
        headers=key.headers,
    )
    member = await create_member(client, key, pid)
    for _ in range(3):
        await _refer(client, key, member["referral_code"])
    # "thanks" had codes for all three referrer rewards; "welcome" had none for the friends.
    assert await _warnings(client, key, pid) == [
        {
            "code": "coupon_pool_empty",
            "detail": '3 rewards are waiting for codes in pool "welcome"; upload codes to issue '
            "them.",
            "pool": "welcome",
            "waiting": 3,
            "available": 0,
        }
    ]
    assert await _pools(client, key, pid) == [
        {"pool": "thanks", "total": 3, "available": 0, "waiting": 0},
        {"pool": "welcome", "total": 0, "available": 0, "waiting": 3},
    ]

    upload = await client.post(
        f"/api/v1/programs/{pid}/coupon-pools/welcome/codes",
        json={"codes": ["W-1", "W-2"]},
        headers=key.headers,
    )
    assert upload.json()["available"] == 2
    [warning] = await _warnings(client, key, pid)
    assert (warning["waiting"], warning["available"]) == (3, 2)
    assert warning["detail"] == (
        '3 rewards are waiting for codes in pool "welcome"; 2 codes are available now: issue them.'
    )

    waiting = [r for r in await _rewards(client, key, pid) if r["coupon_code"] is None]
    assert [r["held_reason"] for r in waiting] == ["coupon_pool_empty"] * 3
    for reward in waiting[:2]:
        issued = await client.post(f"/api/v1/rewards/{reward['id']}/issue", headers=key.headers)
        assert issued.status_code == 200, issued.text
        assert issued.json()["coupon_code"] in {"W-1", "W-2"}
    [warning] = await _warnings(client, key, pid)
    assert warning["detail"] == (
        '1 reward is waiting for a code in pool "welcome"; upload codes to issue it.'
    )
    # The last one is cancelled instead: nothing waits any more.
    cancel = await client.post(f"/api/v1/rewards/{waiting[2]['id']}/cancel", headers=key.headers)
    assert cancel.status_code == 200, cancel.text
    assert await _warnings(client, key, pid) == []
    assert [p["waiting"] for p in await _pools(client, key, pid)] == [0, 0]


async def test_a_reward_under_review_waits_for_a_code_once_approved(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, reward_rules=[_coupon_rule("vip")])
    pid = program["id"]
    member = await create_member(
        client, key, pid, email="r@example.com", visitor_id="0123456789abcdef0123456789abcdef"
    )
    referral = await _refer(
        client, key, member["referral_code"], visitor_id="0123456789abcdef0123456789abcdef"
    )
    assert referral["fraud"]["risk"] == "high"
    [reward] = await _rewards(client, key, pid)
    assert reward["held_reason"] == "fraud_review"
    # Overriding the review hold still needs a code.
    refused = await client.post(
        f"/api/v1/rewards/{reward['id']}/issue", json={"override_hold": True}, headers=key.headers
    )
    assert refused.status_code == 409
    assert "empty" in refused.json()["detail"]
    assert await _warnings(client, key, pid) == []  # a person must look at it first

    await client.patch(
        f"/api/v1/referrals/{referral['id']}", json={"status": "approved"}, headers=key.headers
    )
    [reward] = await _rewards(client, key, pid)
    assert (reward["held_reason"], reward["coupon_code"]) == ("coupon_pool_empty", None)
    assert [w["pool"] for w in await _warnings(client, key, pid)] == ["vip"]

    await client.post(
        f"/api/v1/programs/{pid}/coupon-pools/vip/codes",
        json={"codes": ["VIP-1"]},
        headers=key.headers,
    )
    issued = await client.post(f"/api/v1/rewards/{reward['id']}/issue", headers=key.headers)
    assert issued.status_code == 200, issued.text
    assert issued.json()["coupon_code"] == "VIP-1"
    assert await _warnings(client, key, pid) == []
