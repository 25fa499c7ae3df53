"""The acceptance flow of links, events and stats, through HTTP (SQLite and PostgreSQL):
create member → open its link → signup event with the click id → referral pending with an
explanation → purchase event → referral qualified → member and program stats show it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.factories import Key, create_member, create_program

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


async def test_member_link_signup_purchase_stats(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key, landing_url="https://example.com/join?ref=1")
    member = await create_member(client, key, program["id"], email="jane@example.com")

    # The member's link redirects, records the click and counts one reach.
    link_path = urlsplit(member["referral_link"]).path
    opened = await client.get(link_path, headers={"user-agent": BROWSER})
    assert opened.status_code == 302
    location = urlsplit(opened.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "example.com", "/join")
    query = parse_qs(location.query)
    assert query["ref"] == ["1"]
    click_id = query["rk_click"][0]
    assert click_id.startswith("clk_")
    assert "rk_vid=" in opened.headers["set-cookie"]

    stats = (await client.get(f"/api/v1/members/{member['id']}/stats", headers=key.headers)).json()
    assert (stats["clicks"], stats["reach"], stats["referrals"]) == (1, 1, 0)

    # A signup event with the click id creates a pending referral with an explanation.
    signup = await client.post(
        "/api/v1/events",
        json={
            "event_id": "signup-1",
            "type": "signup",
            "click_id": click_id,
            "customer": {"external_id": "cust-1", "email": "friend@example.com"},
        },
        headers=key.headers,
    )
    assert signup.status_code == 201, signup.text
    event = signup.json()
    assert event["attribution"]["method"] == "click_id"
    assert event["attribution"]["member_id"] == member["id"]
    referral_id = event["outcome"]["referral"]["id"]
    referral = (await client.get(f"/api/v1/referrals/{referral_id}", headers=key.headers)).json()
    assert referral["status"] == "pending"
    assert referral["member_id"] == member["id"]
    assert referral["attribution"]["click_id"] == click_id
    assert click_id in referral["attribution"]["explanation"]
    assert referral["attribution"]["candidates"][0]["accepted"] is True

    # A purchase by that customer qualifies the referral.
    purchase = await client.post(
        "/api/v1/events",
        json={
            "event_id": "order-1",
            "type": "purchase",
            "customer": {"external_id": "cust-1"},
            "amount": 2500,
            "currency": "usd",
        },
        headers=key.headers,
    )
    assert purchase.status_code == 201, purchase.text
    assert purchase.json()["outcome"]["referral"] == {"id": referral_id, "status": "qualified"}
    referral = (await client.get(f"/api/v1/referrals/{referral_id}", headers=key.headers)).json()
    assert referral["status"] == "qualified"

    stats = (await client.get(f"/api/v1/members/{member['id']}/stats", headers=key.headers)).json()
    assert (stats["clicks"], stats["reach"]) == (1, 1)
    assert (stats["referrals"], stats["qualified_referrals"], stats["conversions"]) == (1, 1, 1)
    assert stats["revenue"] == [{"amount": 2500, "currency": "USD"}]

    program_stats = (
        await client.get(f"/api/v1/programs/{program['id']}/stats", headers=key.headers)
    ).json()
    totals = program_stats["totals"]
    assert (totals["clicks"], totals["reach"], totals["signups"]) == (1, 1, 1)
    assert (totals["referrals"], totals["qualified_referrals"]) == (1, 1)
    assert program_stats["series"][-1]["qualified_referrals"] == 1
    assert len(program_stats["series"]) == 30

    board = (
        await client.get(f"/api/v1/programs/{program['id']}/leaderboard", headers=key.headers)
    ).json()
    assert board["data"][0]["member_id"] == member["id"]
    assert board["data"][0]["qualified_referrals"] == 1
