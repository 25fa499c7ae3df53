"""Deleting a member erases their personal data everywhere, not only on their row: their own
device's clicks, the fraud evidence that names their device, webhook bodies and stored
responses. Program counts stay; the erasure is recorded."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from tests.customer.traces import Person, where_found
from tests.factories import Key, create_program


async def test_member_deletion_erases_their_data_in_every_table(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    person = Person.new()
    visitor = uuid.uuid4().hex
    phone = f"+1555{uuid.uuid4().int % 10**7:07d}"
    hook = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/rk", "events": ["*"]},
        headers=key.headers,
    )
    assert hook.status_code == 201, hook.text
    program = await create_program(client, key, fraud={"mode": "flag", "self_referral": True})
    created = await client.post(
        f"/api/v1/programs/{program['id']}/members",
        json={
            "email": person.email,
            "external_id": person.external_id,
            "name": person.name,
            "metadata": {"phone": phone},
            "ip": person.ip,
            "visitor_id": visitor,
        },
        headers={**key.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    member = created.json()
    # The referrer opens their own link, and a friend signs up on the same device (flagged).
    own_click = await client.get(
        f"/r/{member['referral_code']}",
        headers={"user-agent": person.user_agent, "cookie": f"rk_vid={visitor}"},
    )
    assert own_click.status_code == 302
    friend = await client.post(
        "/api/v1/referrals",
        json={
            "referral_code": member["referral_code"],
            "referee": {"email": f"friend-{uuid.uuid4().hex[:8]}@example.org"},
            "ip": person.ip,
            "visitor_id": visitor,
        },
        headers=key.headers,
    )
    assert friend.status_code == 201, friend.text
    assert {s["code"] for s in friend.json()["fraud"]["signals"]} >= {"same_visitor"}
    values = [*person.values(), visitor, phone]
    before = await where_found(app, values)
    assert set().union(*before.values()) == set(values), before
    stats_path = f"/api/v1/programs/{program['id']}/stats"
    stats_before = (await client.get(stats_path, headers=key.headers)).json()

    response = await client.delete(f"/api/v1/members/{member['id']}", headers=key.headers)
    assert response.status_code == 204, response.text

    left = await where_found(app, values)
    # The friend's own referral row keeps the friend's IP (their data, the same network).
    assert left in ({}, {"referrals.ip": {person.ip}}), left
    assert (await client.get(stats_path, headers=key.headers)).json() == stats_before
    log = await client.get(
        "/api/v1/erasures", params={"subject_id": member["id"]}, headers=key.headers
    )
    (erasure,) = log.json()["data"]
    assert (erasure["subject_type"], erasure["key_id"]) == ("member", key.key_id)
    assert erasure["counts"]["members"] == 1
    assert erasure["counts"]["clicks"] == 1
    assert erasure["counts"]["referrals"] == 1
    assert erasure["counts"]["webhook_messages"] >= 1
    assert erasure["counts"]["idempotency_keys"] == 1
    # The friend's referral stays, credited to the (erased) referrer.
    referral = (
        await client.get(f"/api/v1/referrals/{friend.json()['id']}", headers=key.headers)
    ).json()
    assert referral["member_id"] == member["id"]
    assert referral["referee"]["email"] == friend.json()["referee"]["email"]
