"""A customer's data: export everything stored about them, erase it everywhere, and the counts
stay the same. The acceptance test scans every column of every table for their values."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Mode, Scope
from tests.customer.traces import Person, where_found
from tests.factories import Key, create_member, create_program, new_key

RULES = [
    {
        "recipient": "referrer",
        "trigger": "referral_qualified",
        "kind": "cash",
        "amount": 2000,
        "currency": "USD",
    },
    {
        "recipient": "referee",
        "trigger": "referral_qualified",
        "kind": "credit",
        "amount": 1000,
        "currency": "USD",
        "description": "Welcome credit",
    },
]


@dataclass
class Story:
    program: dict[str, Any]
    member: dict[str, Any]
    referral: dict[str, Any]
    customer_id: str
    click_id: str
    visitor_id: str
    webhook_id: str
    retry: dict[str, Any]
    """The referral request, as a client would retry it with its Idempotency-Key."""


async def _click(client: httpx.AsyncClient, code: str, person: Person) -> tuple[str, str]:
    response = await client.get(
        f"/r/{code}", headers={"user-agent": person.user_agent, "referer": "https://mail.example/"}
    )
    assert response.status_code == 302, response.text
    click_id = parse_qs(urlsplit(response.headers["location"]).query)["rk_click"][0]
    return click_id, response.cookies["rk_vid"]


async def _event(client: httpx.AsyncClient, key: Key, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/events", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def story(client: httpx.AsyncClient, key: Key, person: Person) -> Story:
    """A friend clicks a referrer's link, signs up (a referral with their name, IP and browser,
    sent with an Idempotency-Key), buys (qualifies: rewards both sides), with webhooks on."""
    hook = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/rk", "events": ["*"]},
        headers=key.headers,
    )
    assert hook.status_code == 201, hook.text
    program = await create_program(
        client,
        key,
        qualification={"event": "purchase", "min_amount": 1000, "currency": "USD"},
        reward_rules=RULES,
    )
    member = await create_member(client, key, program["id"])
    click_id, visitor_id = await _click(client, member["referral_code"], person)
    retry = {
        "json": {
            "click_id": click_id,
            "referee": {
                "email": person.email,
                "external_id": person.external_id,
                "name": person.name,
            },
            "ip": person.ip,
            "user_agent": person.user_agent,
        },
        "headers": {**key.headers, "Idempotency-Key": uuid.uuid4().hex},
    }
    referral = await client.post("/api/v1/referrals", **retry)
    assert referral.status_code == 201, referral.text
    customer = {"email": person.email, "external_id": person.external_id}
    common = {"customer": customer, "ip": person.ip, "user_agent": person.user_agent}
    signup = await _event(
        client,
        key,
        event_id=f"signup-{uuid.uuid4().hex}",
        type="signup",
        click_id=click_id,
        visitor_id=visitor_id,
        properties={"contact": person.email, "plan": "pro"},
        **common,
    )
    purchase = await _event(
        client,
        key,
        event_id=f"order-{uuid.uuid4().hex}",
        type="purchase",
        amount=4900,
        currency="USD",
        properties={"shipping_name": person.name},
        **common,
    )
    assert purchase["outcome"]["referral"]["status"] == "qualified", purchase
    assert signup["customer_id"] == purchase["customer_id"]
    return Story(
        program,
        member,
        referral.json(),
        purchase["customer_id"],
        click_id,
        visitor_id,
        hook.json()["id"],
        retry,
    )


async def stats(client: httpx.AsyncClient, key: Key, s: Story) -> list[Any]:
    paths = [
        f"/api/v1/programs/{s.program['id']}/stats",
        f"/api/v1/programs/{s.program['id']}/leaderboard",
        f"/api/v1/members/{s.member['id']}/stats",
        f"/api/v1/links?program_id={s.program['id']}",
    ]
    answers = []
    for path in paths:
        response = await client.get(path, headers=key.headers)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


@pytest.fixture
def person() -> Person:
    return Person.new()


async def test_export_answers_everything_stored_about_them(
    client: httpx.AsyncClient, key: Key, person: Person
) -> None:
    s = await story(client, key, person)
    found = await client.get(
        "/api/v1/customers", params={"email": person.email.upper()}, headers=key.headers
    )
    assert [c["id"] for c in found.json()["data"]] == [s.customer_id]

    response = await client.get(f"/api/v1/customers/{s.customer_id}/export", headers=key.headers)
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["customer"]["email"] == person.email
    assert export["customer"]["external_id"] == person.external_id
    assert [e["type"] for e in export["events"]] == ["signup", "purchase"]
    assert {e["ip"] for e in export["events"]} == {person.ip}
    assert export["events"][0]["properties"]["contact"] == person.email
    (referral,) = export["referrals"]
    assert referral["id"] == s.referral["id"]
    assert referral["referee"]["name"] == person.name
    assert (referral["ip"], referral["user_agent"]) == (person.ip, person.user_agent)
    assert [(r["recipient"], r["amount"]) for r in export["rewards"]] == [("referee", 1000)]
    (click,) = export["clicks"]
    assert (click["id"], click["user_agent"]) == (s.click_id, person.user_agent)
    assert click["visitor_id"] == s.visitor_id


async def test_erasure_leaves_no_trace_in_any_table_and_counts_unchanged(
    app: FastAPI, client: httpx.AsyncClient, key: Key, person: Person
) -> None:
    s = await story(client, key, person)
    before = await where_found(app, person.values())
    # The story put every value somewhere (else the scan below proves nothing).
    assert set().union(*before.values()) == set(person.values()), before
    assert "webhook_messages.body" in before
    # Stored responses are encrypted at rest: the scan never reads them (the replay test below
    # shows the erasure reaches them too).
    assert "idempotency_keys.body" not in before
    counts_before = await stats(client, key, s)

    response = await client.delete(f"/api/v1/customers/{s.customer_id}", headers=key.headers)
    assert response.status_code == 204, response.text

    assert await where_found(app, person.values()) == {}
    assert await stats(client, key, s) == counts_before
    # A client retrying its request gets the redacted first answer; nothing is re-created.
    replay = await client.post("/api/v1/referrals", **s.retry)
    assert replay.headers.get("idempotent-replayed") == "true", replay.text
    assert replay.json()["referee"]["email"] == "[erased]"
    assert await where_found(app, person.values()) == {}
    # The referral and its rewards are still there (and still counted), de-identified.
    referral = (
        await client.get(f"/api/v1/referrals/{s.referral['id']}", headers=key.headers)
    ).json()
    assert referral["referee"] == {"email": None, "external_id": None, "name": None}
    assert referral["status"] == "qualified"
    rewards = await client.get(
        "/api/v1/rewards", params={"referral_id": s.referral["id"]}, headers=key.headers
    )
    assert sorted(r["recipient"] for r in rewards.json()["data"]) == ["referee", "referrer"]
    events = await client.get(
        "/api/v1/events", params={"program_id": s.program["id"]}, headers=key.headers
    )
    assert [e["customer_id"] for e in events.json()["data"]] == [None, None]
    assert {e["properties"].get("plan") for e in events.json()["data"]} == {None}


async def test_erasure_is_recorded_without_the_data_and_sent_as_a_webhook(
    client: httpx.AsyncClient, key: Key, person: Person
) -> None:
    s = await story(client, key, person)
    assert (
        await client.delete(f"/api/v1/customers/{s.customer_id}", headers=key.headers)
    ).status_code == 204
    log = await client.get(
        "/api/v1/erasures", params={"subject_id": s.customer_id}, headers=key.headers
    )
    (erasure,) = log.json()["data"]
    assert erasure["subject_type"] == "customer"
    assert erasure["key_id"] == key.key_id
    assert erasure["counts"]["customers"] == 1
    assert erasure["counts"]["events"] == 2
    assert erasure["counts"]["referrals"] == 1
    assert erasure["counts"]["rewards"] == 1
    assert erasure["counts"]["clicks"] == 1
    assert erasure["counts"]["webhook_messages"] >= 3
    assert erasure["counts"]["idempotency_keys"] == 1
    messages = await client.get(f"/api/v1/webhooks/{s.webhook_id}/messages", headers=key.headers)
    erased = [m for m in messages.json()["data"] if m["event_type"] == "customer.erased"]
    assert len(erased) == 1
    # The customer is gone: reads, exports and a second erasure answer 404.
    for method, path in [
        ("GET", f"/api/v1/customers/{s.customer_id}"),
        ("GET", f"/api/v1/customers/{s.customer_id}/export"),
        ("DELETE", f"/api/v1/customers/{s.customer_id}"),
    ]:
        response = await client.request(method, path, headers=key.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"


async def test_scopes_tenancy_and_mode(
    app: FastAPI, client: httpx.AsyncClient, key: Key, person: Person
) -> None:
    s = await story(client, key, person)
    export, erase = (
        f"/api/v1/customers/{s.customer_id}/export",
        f"/api/v1/customers/{s.customer_id}",
    )
    for scope in (Scope.read_only, Scope.analytics):
        weak = await new_key(app, workspace=await _workspace_name(client, key), scope=scope)
        for method, path in [("GET", export), ("DELETE", erase)]:
            response = await client.request(method, path, headers=weak.headers)
            assert response.status_code == 403, (scope, method, response.text)
        # The customer itself (no device detail) is an ordinary read.
        read = await client.get(erase, headers=weak.headers)
        assert read.status_code == (200 if scope is Scope.read_only else 403), read.text
    other = await new_key(app)
    test_mode = await new_key(app, workspace=await _workspace_name(client, key), mode=Mode.test)
    for stranger in (other, test_mode):
        for method, path in [("GET", export), ("DELETE", erase), ("GET", erase)]:
            response = await client.request(method, path, headers=stranger.headers)
            assert response.status_code == 404, (method, path, response.text)
    malformed = await client.delete("/api/v1/customers/not-an-id", headers=key.headers)
    assert malformed.status_code == 404
    # Nothing was erased by the refused calls.
    assert (await client.get(export, headers=key.headers)).json()["customer"]["email"] == (
        person.email
    )


async def _workspace_name(client: httpx.AsyncClient, key: Key) -> str:
    response = await client.get("/api/v1/workspace", headers=key.headers)
    name: str = response.json()["name"]
    return name
