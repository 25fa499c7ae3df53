"""The same-device fraud check: a referee on the referrer's own browser (visitor cookie) or IP.

The referrer's devices come from the member (``ip``, ``visitor_id`` given on create) and from
the referrer's own events as a customer (their IP, visitor id, and their click's visitor id);
the referee's from the referral (``ip``, ``visitor_id``, or its signup event) and its click.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from referkit.fraud.signals import Fingerprint, device_ip, same_device_signals
from tests.factories import Key, create_member, create_program

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
CASH_ON_REFERRAL = {
    "recipient": "referrer",
    "trigger": "referral_created",
    "kind": "cash",
    "amount": 500,
    "currency": "USD",
}


def _visitor() -> str:
    return secrets.token_hex(16)


async def _click(client: httpx.AsyncClient, code: str, visitor_id: str) -> str:
    """A click on ``/r/{code}`` from the browser holding the ``rk_vid`` cookie ``visitor_id``."""
    response = await client.get(
        f"/r/{code}", headers={"user-agent": BROWSER, "cookie": f"rk_vid={visitor_id}"}
    )
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["rk_click"][0]


async def _refer(client: httpx.AsyncClient, key: Key, **body: Any) -> httpx.Response:
    body.setdefault("referee", {"email": f"friend-{uuid.uuid4().hex[:8]}@example.com"})
    return await client.post("/api/v1/referrals", json=body, headers=key.headers)


async def _event(client: httpx.AsyncClient, key: Key, **body: Any) -> dict[str, Any]:
    body.setdefault("event_id", f"e-{uuid.uuid4().hex[:12]}")
    response = await client.post("/api/v1/events", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _flagged(client: httpx.AsyncClient, key: Key, answer: httpx.Response) -> dict[str, Any]:
    """The stored referral behind a 201, after checking its rewards are held for review."""
    assert answer.status_code == 201, answer.text
    referral: dict[str, Any] = answer.json()
    stored = await client.get(f"/api/v1/referrals/{referral['id']}", headers=key.headers)
    assert stored.json()["fraud"] == referral["fraud"]
    rewards = await client.get(
        "/api/v1/rewards", params={"referral_id": referral["id"]}, headers=key.headers
    )
    assert [r["held_reason"] for r in rewards.json()["data"]] == ["fraud_review"]
    return referral


async def test_referee_click_from_the_referrers_browser_is_flagged(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, reward_rules=[CASH_ON_REFERRAL])
    visitor = _visitor()
    member = await create_member(
        client, key, program["id"], email="jane@example.com", visitor_id=visitor
    )
    assert "visitor_id" not in member
    assert "ip" not in member
    click_id = await _click(client, member["referral_code"], visitor)
    referral = await _flagged(client, key, await _refer(client, key, click_id=click_id))
    assert referral["fraud"] == {
        "risk": "high",
        "signals": [
            {
                "code": "same_visitor",
                "severity": "high",
                "detail": "The referee used the same browser or device (visitor cookie) as "
                "the referrer.",
                "evidence": {
                    "visitor_id": visitor,
                    "referee_source": f"click {click_id}",
                    "referrer_source": "member",
                },
            }
        ],
    }
    # A click from another browser is clean.
    other = await _click(client, member["referral_code"], _visitor())
    clean = await _refer(client, key, click_id=other)
    assert clean.json()["fraud"] == {"risk": "low", "signals": []}


async def test_referrers_own_event_and_its_click_are_their_devices(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, reward_rules=[CASH_ON_REFERRAL])
    member = await create_member(
        client, key, program["id"], email="Jane@Example.com", external_id="user_jane"
    )
    # The referrer uses the product as a customer: an event by external id, with a cookie ...
    phone = _visitor()
    own = await _event(
        client, key, type="open", customer={"external_id": "user_jane"}, visitor_id=phone
    )
    referral = await _flagged(
        client,
        key,
        await _refer(client, key, referral_code=member["referral_code"], visitor_id=phone),
    )
    [signal] = referral["fraud"]["signals"]
    assert signal["code"] == "same_visitor"
    assert signal["evidence"] == {
        "visitor_id": phone,
        "referee_source": "request",
        "referrer_source": f"event {own['id']}",
    }
    # ... and, by email (any letter case), an event attributed to a click from their laptop.
    laptop = _visitor()
    link = await client.post(
        "/api/v1/links", json={"destination_url": "https://example.com/"}, headers=key.headers
    )
    click_id = await _click(client, link.json()["code"], laptop)
    purchase = await _event(
        client,
        key,
        type="custom",
        name="viewed_pricing",
        click_id=click_id,
        customer={"email": "jane@example.com"},
    )
    assert purchase["click_id"] == click_id
    second = await _flagged(
        client,
        key,
        await _refer(client, key, referral_code=member["referral_code"], visitor_id=laptop),
    )
    [signal] = second["fraud"]["signals"]
    assert signal["evidence"]["referrer_source"] == f"click {click_id} (event {purchase['id']})"


async def test_same_ip_as_the_member_or_an_own_event(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key, reward_rules=[CASH_ON_REFERRAL])
    member = await create_member(
        client, key, program["id"], external_id="user_ip", ip=" 81.2.69.160 "
    )
    # The same address written as IPv4-mapped IPv6 is the same address.
    answer = await _refer(
        client, key, referral_code=member["referral_code"], ip="::ffff:81.2.69.160"
    )
    referral = await _flagged(client, key, answer)
    assert referral["fraud"]["risk"] == "medium"
    assert referral["fraud"]["signals"] == [
        {
            "code": "same_ip",
            "severity": "medium",
            "detail": "The referee came from 81.2.69.160, an IP address the referrer used.",
            "evidence": {
                "ip": "81.2.69.160",
                "referee_source": "request",
                "referrer_source": "member",
            },
        }
    ]
    own = await _event(
        client, key, type="open", customer={"external_id": "user_ip"}, ip="2001:DB8:0::7"
    )
    second = await _refer(client, key, referral_code=member["referral_code"], ip="2001:db8::7")
    [signal] = (await _flagged(client, key, second))["fraud"]["signals"]
    assert signal["evidence"] == {
        "ip": "2001:db8::7",
        "referee_source": "request",
        "referrer_source": f"event {own['id']}",
    }
    # Another address, or a private one (a proxy's, shared by everyone behind it), is clean.
    for ip in ("81.2.69.161", "10.0.0.1"):
        if ip == "10.0.0.1":
            await _event(client, key, type="open", customer={"external_id": "user_ip"}, ip=ip)
        clean = await _refer(client, key, referral_code=member["referral_code"], ip=ip)
        assert clean.json()["fraud"] == {"risk": "low", "signals": []}, ip


async def test_block_mode_refuses_the_referrers_device(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key, fraud={"mode": "block"})
    visitor = _visitor()
    member = await create_member(
        client, key, program["id"], email="b@example.com", visitor_id=visitor, ip="81.2.69.160"
    )
    answer = await _refer(
        client, key, referral_code=member["referral_code"], visitor_id=visitor, ip="81.2.69.160"
    )
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "fraud_blocked"
    assert problem["risk"] == "high"
    assert [s["code"] for s in problem["signals"]] == ["same_visitor", "same_ip"]
    assert "same_ip" in problem["detail"]
    assert "same_visitor" in problem["detail"]
    listed = await client.get(
        "/api/v1/referrals", params={"member_id": member["id"]}, headers=key.headers
    )
    assert listed.json()["data"] == []


async def test_signup_event_carries_the_referees_device(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, reward_rules=[CASH_ON_REFERRAL])
    visitor = _visitor()
    member = await create_member(
        client, key, program["id"], email="s@example.com", visitor_id=visitor
    )
    signup = await _event(
        client,
        key,
        type="signup",
        referral_code=member["referral_code"],
        customer={"email": "new-friend@example.com"},
        visitor_id=visitor,
        ip="81.2.69.160",
    )
    referral_id = signup["outcome"]["referral"]["id"]
    stored = await client.get(f"/api/v1/referrals/{referral_id}", headers=key.headers)
    [signal] = stored.json()["fraud"]["signals"]
    assert signal["code"] == "same_visitor"
    assert signal["evidence"] == {
        "visitor_id": visitor,
        "referee_source": f"event {signup['id']}",
        "referrer_source": "member",
    }
    # Blank device fields are no device at all.
    blank = await _event(
        client,
        key,
        type="signup",
        referral_code=member["referral_code"],
        customer={"email": "blank-friend@example.com"},
        visitor_id="",
        ip="",
    )
    stored = await client.get(
        f"/api/v1/referrals/{blank['outcome']['referral']['id']}", headers=key.headers
    )
    assert stored.json()["fraud"] == {"risk": "low", "signals": []}


async def test_the_check_can_be_turned_off(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key, reward_rules=[CASH_ON_REFERRAL])
    visitor = _visitor()
    member = await create_member(
        client, key, program["id"], email="off@example.com", visitor_id=visitor, ip="81.2.69.160"
    )
    patched = await client.patch(
        f"/api/v1/programs/{program['id']}",
        json={"fraud": {"same_device": False}},
        headers=key.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["fraud"]["same_device"] is False
    assert patched.json()["fraud"]["mode"] == "flag"
    answer = await _refer(
        client, key, referral_code=member["referral_code"], visitor_id=visitor, ip="81.2.69.160"
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["fraud"] == {"risk": "low", "signals": []}
    rewards = await client.get(
        "/api/v1/rewards", params={"referral_id": answer.json()["id"]}, headers=key.headers
    )
    assert [r["held_reason"] for r in rewards.json()["data"]] == [None]


async def test_fetching_a_member_fills_in_its_device_once(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, reward_rules=[CASH_ON_REFERRAL])
    member = await create_member(client, key, program["id"], email="fill@example.com")
    first, second = _visitor(), _visitor()
    for visitor in (first, second):  # the first known device stays
        again = await client.post(
            f"/api/v1/programs/{program['id']}/members",
            json={"email": "fill@example.com", "visitor_id": visitor},
            headers=key.headers,
        )
        assert again.status_code == 200, again.text
        assert again.json()["id"] == member["id"]
        assert "visitor_id" not in again.json()
    flagged = await _refer(client, key, referral_code=member["referral_code"], visitor_id=first)
    assert [s["code"] for s in flagged.json()["fraud"]["signals"]] == ["same_visitor"]
    clean = await _refer(client, key, referral_code=member["referral_code"], visitor_id=second)
    assert clean.json()["fraud"]["signals"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"ip": "not-an-ip"},
        {"ip": "81.2.69.999"},
        {"visitor_id": "ABCDEF0123456789ABCDEF0123456789"},
        {"visitor_id": "abc"},
    ],
)
async def test_member_device_fields_are_validated(
    client: httpx.AsyncClient, key: Key, body: dict[str, str]
) -> None:
    program = await create_program(client, key)
    answer = await client.post(
        f"/api/v1/programs/{program['id']}/members",
        json={"email": "v@example.com", **body},
        headers=key.headers,
    )
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [next(iter(body))]


def test_matching_is_normalized_and_ordered() -> None:
    assert device_ip("2001:0DB8::0001") == "2001:db8::1"
    assert device_ip("::ffff:81.2.69.160") == "81.2.69.160"
    assert [device_ip(ip) for ip in ("127.0.0.1", "::1", "192.168.1.2", "fe80::1", "x")] == [
        None
    ] * 5
    referee = [Fingerprint("click clk_1", visitor_id="v1"), Fingerprint("request", ip="8.8.8.8")]
    referrer = [
        Fingerprint("member", ip="8.8.4.4"),
        Fingerprint("event evt_2", ip="8.8.8.8", visitor_id="v1"),
        Fingerprint("event evt_1", ip="8.8.8.8", visitor_id="v1"),
    ]
    signals = same_device_signals({}, referee, referrer)
    assert [(s.code, s.evidence["referrer_source"]) for s in signals] == [
        ("same_visitor", "event evt_2"),
        ("same_ip", "event evt_2"),
    ]
    assert same_device_signals({"same_device": False}, referee, referrer) == []
