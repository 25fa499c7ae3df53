"""Events over HTTP: idempotency, validation, attribution (click, cookie, code, window, model),
signup → referral, qualification rules, refunds, batches, listing, scopes and tenancy."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Scope
from tests.factories import Key, create_member, create_program, new_key

EVENTS = "/api/v1/events"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"


def _eid() -> str:
    return f"e-{uuid.uuid4().hex[:12]}"


async def _send(client: httpx.AsyncClient, key: Key, **body: Any) -> httpx.Response:
    body.setdefault("event_id", _eid())
    return await client.post(EVENTS, json=body, headers=key.headers)


async def _click(client: httpx.AsyncClient, code: str, ua: str = BROWSER) -> tuple[str, str]:
    response = await client.get(f"/r/{code}", headers={"user-agent": ua})
    assert response.status_code == 302
    click_id = parse_qs(urlsplit(response.headers["location"]).query)["rk_click"][0]
    return click_id, response.cookies["rk_vid"]


@pytest.fixture
async def setup(client: httpx.AsyncClient, key: Key) -> dict[str, Any]:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"], email="ref@example.com")
    return {"program": program, "member": member}


async def test_replay_answers_200_with_the_first_answer(
    client: httpx.AsyncClient, key: Key, setup: dict[str, Any]
) -> None:
    body = {"event_id": _eid(), "type": "install", "program_id": setup["program"]["id"]}
    first = await _send(client, key, **body)
    assert first.status_code == 201, first.text
    replay = await _send(client, key, **body)
    assert replay.status_code == 200
    assert replay.json() == first.json()
    # Concurrent duplicates store one event.
    body["event_id"] = _eid()
    answers = await asyncio.gather(*(_send(client, key, **body) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    listed = await client.get(EVENTS, params={"type": "install"}, headers=key.headers)
    assert len(listed.json()["data"]) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"type": "purchase", "amount": 100},  # amount without currency
        {"type": "custom"},  # custom without name
        {"type": "refund"},  # refund without the purchase
        {"type": "purchase", "amount": -1, "currency": "USD"},
        {"type": "teleport"},
    ],
)
async def test_invalid_events(client: httpx.AsyncClient, key: Key, body: dict[str, Any]) -> None:
    assert (await _send(client, key, **body)).status_code == 422


async def test_unknown_references_are_refused(client: httpx.AsyncClient, key: Key) -> None:
    response = await _send(client, key, type="open", program_id="prog_01jd9x4k6b8v2q3r5s7t9w1y3z")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "program_id"
    refund = await _send(client, key, type="refund", refunded_event_id="nope")
    assert refund.status_code == 422


async def test_signup_by_cookie_and_model(
    client: httpx.AsyncClient, key: Key, setup: dict[str, Any]
) -> None:
    program, first = setup["program"], setup["member"]
    second = await create_member(client, key, program["id"], email="second@example.com")
    # One visitor clicks two referrers' links; the cookie carries the visitor id.
    response = await client.get(f"/r/{first['referral_code']}", headers={"user-agent": BROWSER})
    visitor = response.cookies["rk_vid"]
    again = await client.get(  # the client sends the cookie back, as a browser does
        f"/r/{second['referral_code']}", headers={"user-agent": BROWSER}
    )
    assert "rk_vid" not in again.cookies  # same visitor: no new cookie
    last = await _send(
        client, key, type="signup", visitor_id=visitor, customer={"email": "a@example.com"}
    )
    assert last.status_code == 201, last.text
    attribution = last.json()["attribution"]
    assert attribution["method"] == "cookie"
    assert attribution["model"] == "last_click"
    assert attribution["member_id"] == second["id"]
    assert len(attribution["candidates"]) == 2

    await client.patch(
        f"/api/v1/programs/{program['id']}",
        json={"attribution": {"model": "first_click"}},
        headers=key.headers,
    )
    first_click = await _send(
        client, key, type="signup", visitor_id=visitor, customer={"email": "b@example.com"}
    )
    assert first_click.json()["attribution"]["member_id"] == first["id"]
    referral_id = first_click.json()["outcome"]["referral"]["id"]
    referral = (await client.get(f"/api/v1/referrals/{referral_id}", headers=key.headers)).json()
    assert referral["attribution"]["method"] == "cookie"
    assert "first_click" in referral["attribution"]["explanation"]


async def test_signup_by_code_and_refusals_keep_the_event(
    client: httpx.AsyncClient, key: Key, setup: dict[str, Any]
) -> None:
    member = setup["member"]
    signup = await _send(
        client,
        key,
        type="signup",
        referral_code=member["referral_code"],
        customer={"external_id": "c-1"},
    )
    assert signup.status_code == 201
    assert signup.json()["attribution"]["method"] == "code"
    assert signup.json()["outcome"]["referral"]["status"] == "pending"
    # The same person again: the referral rules refuse it, the event is still stored.
    again = await _send(
        client,
        key,
        type="signup",
        referral_code=member["referral_code"],
        customer={"external_id": "c-1"},
    )
    assert again.status_code == 201
    assert again.json()["outcome"]["error"]["code"] == "conflict"
    selfie = await _send(
        client,
        key,
        type="signup",
        referral_code=member["referral_code"],
        customer={"email": "ref@example.com"},
    )
    assert selfie.json()["outcome"]["error"]["code"] == "self_referral"
    nobody = await _send(client, key, type="signup", customer={"email": "x@example.com"})
    assert nobody.json()["attribution"] is None
    assert nobody.json()["outcome"]["referral"] is None


async def test_qualification_rules(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(
        client, key, qualification={"event": "purchase", "min_amount": 5000, "currency": "EUR"}
    )
    member = await create_member(client, key, program["id"])
    await _send(
        client,
        key,
        type="signup",
        referral_code=member["referral_code"],
        customer={"external_id": "q-1"},
    )
    small = await _send(
        client, key, type="purchase", customer={"external_id": "q-1"}, amount=4999, currency="EUR"
    )
    assert "not_qualified" in small.json()["outcome"]
    assert small.json()["attribution"]["method"] == "referral"
    wrong = await _send(
        client, key, type="purchase", customer={"external_id": "q-1"}, amount=9999, currency="USD"
    )
    assert "not_qualified" in wrong.json()["outcome"]
    enough = await _send(
        client, key, type="purchase", customer={"external_id": "q-1"}, amount=5000, currency="EUR"
    )
    assert enough.json()["outcome"]["referral"]["status"] == "qualified"
    url = f"/api/v1/members/{member['id']}/stats"
    assert (await client.get(url, headers=key.headers)).json()["qualified_referrals"] == 1
    refund = await _send(client, key, type="refund", refunded_event_id=enough.json()["event_id"])
    assert refund.status_code == 201, refund.text
    assert refund.json()["member_id"] == member["id"]
    stats = (await client.get(url, headers=key.headers)).json()
    assert stats["conversions"] == 3
    assert stats["revenue"] == [
        {"amount": 4999 + 5000 - 5000, "currency": "EUR"},
        {"amount": 9999, "currency": "USD"},
    ]
    # Still counted as qualified unless the refund took the referral out of qualified.
    referral_id = enough.json()["referral_id"]
    referral = (await client.get(f"/api/v1/referrals/{referral_id}", headers=key.headers)).json()
    still = referral["status"] in ("qualified", "approved")
    assert stats["qualified_referrals"] == (1 if still else 0)


async def test_click_outside_the_window_is_not_credited(
    app: FastAPI, client: httpx.AsyncClient, key: Key, setup: dict[str, Any]
) -> None:
    click_id, _ = await _click(client, setup["member"]["referral_code"])
    late = await _send(
        client,
        key,
        type="signup",
        click_id=click_id,
        occurred_at="2199-01-01T00:00:00Z",
        customer={"email": "late@example.com"},
    )
    assert late.status_code == 201
    assert late.json()["attribution"] is None
    assert "window" in late.json()["outcome"]["reason"]


async def test_batch_has_per_item_results(
    client: httpx.AsyncClient, key: Key, setup: dict[str, Any]
) -> None:
    repeated = _eid()
    events = [
        {"event_id": repeated, "type": "open"},
        {"event_id": repeated, "type": "open"},
        {"event_id": _eid(), "type": "open", "program_id": "prog_01jd9x4k6b8v2q3r5s7t9w1y3z"},
        *({"event_id": _eid(), "type": "install"} for _ in range(300)),
    ]
    response = await client.post(f"{EVENTS}/batch", json={"events": events}, headers=key.headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["stored"], result["replayed"], result["failed"]) == (301, 1, 1)
    statuses = [item["status"] for item in result["data"]]
    assert statuses[:3] == [201, 200, 422]
    assert result["data"][2]["error"]["code"] == "validation_error"
    assert [item["index"] for item in result["data"]] == list(range(len(events)))

    too_many = {"events": [{"event_id": str(i), "type": "open"} for i in range(1001)]}
    response = await client.post(f"{EVENTS}/batch", json=too_many, headers=key.headers)
    assert response.status_code in (413, 422)


async def test_list_filters_scopes_and_tenancy(
    app: FastAPI, client: httpx.AsyncClient, key: Key, setup: dict[str, Any]
) -> None:
    program_id = setup["program"]["id"]
    await _send(client, key, type="install", program_id=program_id)
    await _send(client, key, type="open", occurred_at="2020-01-01T00:00:00Z")
    await _send(client, key, type="open", customer={"external_id": "cust-list"})
    by_program = await client.get(EVENTS, params={"program_id": program_id}, headers=key.headers)
    assert [e["type"] for e in by_program.json()["data"]] == ["install"]
    old = await client.get(EVENTS, params={"to": "2021-01-01T00:00:00Z"}, headers=key.headers)
    assert [e["occurred_at"] for e in old.json()["data"]] == ["2020-01-01T00:00:00Z"]
    customer_id = (
        await client.get(EVENTS, params={"type": "open", "from": "2022-01-01"}, headers=key.headers)
    ).json()["data"][0]["customer_id"]
    assert customer_id.startswith("cus_")
    by_customer = await client.get(EVENTS, params={"customer_id": customer_id}, headers=key.headers)
    assert len(by_customer.json()["data"]) == 1

    analytics = await new_key(app, scope=Scope.analytics)
    assert (await client.get(EVENTS, headers=analytics.headers)).status_code == 200
    denied = await client.post(
        EVENTS, json={"event_id": _eid(), "type": "open"}, headers=analytics.headers
    )
    assert denied.status_code == 403
    assert (await client.get(EVENTS, headers=analytics.headers)).json()["data"] == []


async def test_answers_match_the_listed_events_field_for_field(
    client: httpx.AsyncClient, key: Key
) -> None:
    run = uuid.uuid4().hex[:8]
    single = await client.post(
        "/api/v1/events",
        json={
            "event_id": f"{run}-a",
            "type": "purchase",
            "amount": 1999,
            "currency": "EUR",
            "occurred_at": "2026-01-02T03:04:05Z",
            "properties": {"sku": "x", "n": 1},
        },
        headers=key.headers,
    )
    assert single.status_code == 201, single.text
    batch = await client.post(
        "/api/v1/events/batch",
        json={"events": [{"event_id": f"{run}-b", "type": "install"}]},
        headers=key.headers,
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["stored"] == 1
    listed = await client.get("/api/v1/events", headers=key.headers)
    by_id = {event["event_id"]: event for event in listed.json()["data"]}
    assert single.json() == by_id[f"{run}-a"]
    assert single.json()["occurred_at"] == "2026-01-02T03:04:05Z"
    assert batch.json()["data"][0]["event"] == by_id[f"{run}-b"]


async def test_clicks_of_a_deleted_program_credit_nobody(
    client: httpx.AsyncClient, key: Key, setup: dict[str, Any]
) -> None:
    """Deleting a program deletes its members and links; their clicks stay in the click log
    but are no longer candidates, by click id or by cookie."""
    click_id, visitor = await _click(client, setup["member"]["referral_code"])
    program_id = setup["program"]["id"]
    deleted = await client.delete(f"/api/v1/programs/{program_id}", headers=key.headers)
    assert deleted.status_code == 204
    purchase = {"type": "purchase", "amount": 100, "currency": "USD"}
    for reference in ({"click_id": click_id}, {"visitor_id": visitor}):
        response = await _send(client, key, **purchase, **reference)
        assert response.status_code == 201, response.text
        event = response.json()
        assert (event["member_id"], event["program_id"], event["link_id"]) == (None, None, None)
        assert event["attribution"] is None
