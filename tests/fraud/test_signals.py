"""Fraud checks on new referrals: flagged with evidence, or blocked, as the program says."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Key, create_member, create_program


async def _refer(client: httpx.AsyncClient, key: Key, code: str, **extra: Any) -> httpx.Response:
    body = {"referral_code": code, "referee": extra.pop("referee"), **extra}
    return await client.post("/api/v1/referrals", json=body, headers=key.headers)


@pytest.mark.parametrize(
    ("fraud", "referee", "extra", "code"),
    [
        ({}, {"email": "x@mailinator.com"}, {}, "disposable_email"),
        (
            {"blocked_emails": ["Bad.Guy+1@gmail.com"]},
            {"email": "badguy@gmail.com"},
            {},
            "blocked_email",
        ),
        ({"blocked_domains": ["evil.example"]}, {"email": "a@evil.example"}, {}, "blocked_domain"),
        (
            {"blocked_ip_ranges": ["203.0.113.0/24"]},
            {"email": "ok@example.com"},
            {"ip": "203.0.113.9"},
            "blocked_ip",
        ),
    ],
)
async def test_signals_flag_with_evidence_and_hold_rewards(
    client: httpx.AsyncClient,
    key: Key,
    fraud: dict[str, Any],
    referee: dict[str, str],
    extra: dict[str, Any],
    code: str,
) -> None:
    rules = [
        {
            "recipient": "referrer",
            "trigger": "referral_created",
            "kind": "cash",
            "amount": 100,
            "currency": "USD",
        }
    ]
    program = await create_program(client, key, fraud=fraud, reward_rules=rules)
    member = await create_member(client, key, program["id"])
    answer = await _refer(client, key, member["referral_code"], referee=referee, **extra)
    assert answer.status_code == 201, answer.text
    referral = answer.json()
    assert referral["fraud"]["risk"] in ("medium", "high")
    [signal] = referral["fraud"]["signals"]
    assert signal["code"] == code
    assert signal["evidence"]
    stored = (await client.get(f"/api/v1/referrals/{referral['id']}", headers=key.headers)).json()
    assert stored["fraud"] == referral["fraud"]
    rewards = (
        await client.get(
            "/api/v1/rewards", params={"referral_id": referral["id"]}, headers=key.headers
        )
    ).json()["data"]
    assert [r["held_reason"] for r in rewards] == ["fraud_review"]
    # A person approves it: the hold is released.
    await client.patch(
        f"/api/v1/referrals/{referral['id']}", json={"status": "approved"}, headers=key.headers
    )
    reward = (await client.get(f"/api/v1/rewards/{rewards[0]['id']}", headers=key.headers)).json()
    assert reward["held_reason"] is None


async def test_block_mode_refuses_naming_signals(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key, fraud={"mode": "block"})
    member = await create_member(client, key, program["id"])
    answer = await _refer(
        client, key, member["referral_code"], referee={"email": "x@mailinator.com"}
    )
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "fraud_blocked"
    assert [s["code"] for s in problem["signals"]] == ["disposable_email"]
    listed = (
        await client.get(
            "/api/v1/referrals", params={"member_id": member["id"]}, headers=key.headers
        )
    ).json()["data"]
    assert listed == []


async def test_velocity(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key, fraud={"max_referrals_per_member_per_hour": 2})
    member = await create_member(client, key, program["id"])
    risks = []
    for n in range(3):
        answer = await _refer(
            client, key, member["referral_code"], referee={"email": f"v{n}@example.com"}
        )
        risks.append(answer.json()["fraud"]["risk"])
    assert risks == ["low", "low", "medium"]


async def test_clean_referral_is_low_risk(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    answer = await _refer(
        client, key, member["referral_code"], referee={"email": "friend@example.com"}
    )
    assert answer.json()["fraud"] == {"risk": "low", "signals": []}
