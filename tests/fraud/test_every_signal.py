"""Acceptance: a self-referral attempt through every fraud signal is flagged (stored, with its
evidence in GET /referrals/{id}) or blocked (422 fraud_blocked naming the signal), as the
program is configured; a duplicate referee is always a 409."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import httpx
import pytest

from tests.factories import Key, create_member, create_program

FRAUD = {
    "self_referral": False,  # let self-referrals reach the checks instead of a plain 422
    "max_referrals_per_member_per_hour": 1,
    "blocked_emails": ["known.fraud@example.com"],
    "blocked_domains": ["fraud.example"],
    "blocked_ip_ranges": ["198.51.100.0/24"],
}


def _referrer() -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    return {
        "email": f"jane.doe.{tag}@gmail.com",
        "external_id": f"jane-{tag}",
        "ip": "203.0.113.7",
        "visitor_id": secrets.token_hex(16),
    }


def _attempts(referrer: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """signal → (referral body fields, the evidence it must carry)."""
    local, domain = referrer["email"].split("@")
    friend = {"email": f"friend-{uuid.uuid4().hex[:8]}@example.com"}
    return {
        "self_referral": (
            {"referee": {"email": f"{local.replace('.', '')}+alt@{domain}"}},
            {"matched": "email"},
        ),
        "self_referral_id": (
            {"referee": {"external_id": referrer["external_id"]}},
            {"matched": "external_id"},
        ),
        "same_visitor": (
            {"referee": friend, "visitor_id": referrer["visitor_id"]},
            {"visitor_id": referrer["visitor_id"], "referrer_source": "member"},
        ),
        "same_ip": (
            {"referee": friend, "ip": referrer["ip"]},
            {"ip": referrer["ip"], "referrer_source": "member"},
        ),
        "disposable_email": (
            {"referee": {"email": "x@mailinator.com"}},
            {"domain": "mailinator.com"},
        ),
        "blocked_email": (
            {"referee": {"email": "Known.Fraud@example.com"}},
            {"email": "known.fraud@example.com"},
        ),
        "blocked_domain": ({"referee": {"email": "a@fraud.example"}}, {"domain": "fraud.example"}),
        "blocked_ip": (
            {"referee": friend, "ip": "198.51.100.9"},
            {"ip": "198.51.100.9", "range": "198.51.100.0/24"},
        ),
    }


@pytest.mark.parametrize("mode", ["flag", "block"])
async def test_every_signal_is_flagged_or_blocked_with_its_evidence(
    client: httpx.AsyncClient, key: Key, mode: str
) -> None:
    program = await create_program(client, key, fraud={**FRAUD, "mode": mode})
    for expected in _attempts(_referrer()):
        code = expected.removesuffix("_id")
        # A referrer of its own per attempt, so only the velocity case sees velocity.
        fields = _referrer()
        member = await create_member(client, key, program["id"], **fields)
        body, evidence = _attempts(fields)[expected]
        answer = await client.post(
            "/api/v1/referrals",
            json={"referral_code": member["referral_code"], **body},
            headers=key.headers,
        )
        if mode == "block":
            assert answer.status_code == 422, (expected, answer.text)
            problem = answer.json()
            assert problem["code"] == "fraud_blocked"
            fired = {s["code"]: s for s in problem["signals"]}
        else:
            assert answer.status_code == 201, (expected, answer.text)
            stored = await client.get(
                f"/api/v1/referrals/{answer.json()['id']}", headers=key.headers
            )
            fired = {s["code"]: s for s in stored.json()["fraud"]["signals"]}
            assert stored.json()["fraud"]["risk"] in ("medium", "high")
        assert code in fired, (expected, fired)
        assert evidence.items() <= fired[code]["evidence"].items(), (expected, fired[code])

    # Velocity: the member's second referral within the hour.
    member = await create_member(client, key, program["id"])
    first = await client.post(
        "/api/v1/referrals",
        json={"referral_code": member["referral_code"], "referee": {"email": "v1@example.com"}},
        headers=key.headers,
    )
    assert first.status_code == 201, first.text
    second = await client.post(
        "/api/v1/referrals",
        json={"referral_code": member["referral_code"], "referee": {"email": "v2@example.com"}},
        headers=key.headers,
    )
    if mode == "block":
        assert second.status_code == 422
        assert [s["code"] for s in second.json()["signals"]] == ["velocity"]
    else:
        assert second.status_code == 201
        signals = second.json()["fraud"]["signals"]
        assert signals[0]["code"] == "velocity"
        assert signals[0]["evidence"] == {"period": "hour", "count": 2, "limit": 1}

    # A duplicate referee is refused whatever the mode.
    again = await client.post(
        "/api/v1/referrals",
        json={"referral_code": member["referral_code"], "referee": {"email": "v1@example.com"}},
        headers=key.headers,
    )
    assert again.status_code == 409
    assert again.json()["existing_id"] == first.json()["id"]
