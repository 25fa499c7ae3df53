"""Referral Rock's API as its documentation uses it (api.referralrock.com/Help), unchanged,
against Referkit: Basic auth, offset/count envelopes, its field names and status words."""

from __future__ import annotations

import json
from typing import Any

import httpx

from referkit.worker.runner import Worker
from tests.compat.conftest import basic
from tests.factories import Key, create_member, create_program, new_key
from tests.webhook.receiver import Receiver

RULES = [
    {
        "recipient": "referrer",
        "trigger": "referral_qualified",
        "kind": "cash",
        "amount": 2000,
        "currency": "USD",
        "description": "$20 for you",
    }
]


async def test_first_example_lists_programs_with_offset_and_count(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, name="Customer Referral Program")
    response = await client.get("/api/programs?offset=0&count=30", headers=basic(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"offset", "total", "message", "programs"}
    assert body["offset"] == 0
    assert body["total"] == 1
    (listed,) = body["programs"]
    assert listed["id"] == program["id"]
    assert listed["title"] == "Customer Referral Program"
    assert listed["isActive"] is True
    assert listed["directUrl"] == "https://example.com/signup"

    single = await client.get(
        "/api/program/getsingle", params={"name": program["slug"]}, headers=basic(key)
    )
    assert single.status_code == 200
    assert single.json()["id"] == program["id"]


async def test_paging_defaults_to_30_and_reports_the_total(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    for n in range(33):
        await create_member(client, key, program["id"], email=f"m{n}@example.com")
    first = (await client.get("/api/members", headers=basic(key))).json()
    assert (first["offset"], first["total"], len(first["members"])) == (0, 33, 30)
    rest = (await client.get("/api/members?offset=30&count=30", headers=basic(key))).json()
    assert (rest["offset"], len(rest["members"])) == (30, 3)
    ids = {m["id"] for m in first["members"]} | {m["id"] for m in rest["members"]}
    assert len(ids) == 33


async def _script(
    client: httpx.AsyncClient, key: Key, receiver_url: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The acceptance script, written only from Referral Rock's documentation."""
    auth = basic(key)
    programs = (await client.get("/api/programs?offset=0&count=30", headers=auth)).json()
    program_id = programs["programs"][0]["id"]
    hook = await client.post(
        "/api/hooks",
        json={"target_url": receiver_url, "event": "ReferralStatusChange"},
        headers=auth,
    )
    assert hook.status_code == 201, hook.text
    member = await client.post(
        "/api/members",
        json={
            "programId": program_id,
            "firstName": "Jane",
            "lastName": "Doe",
            "email": "jane@example.com",
            "externalIdentifier": "user-1",
        },
        headers=auth,
    )
    assert member.status_code == 201, member.text
    code = member.json()["referralCode"]
    referral = await client.post(
        "/api/referrals",
        json={"referralCode": code, "firstName": "Sam", "email": "sam@example.com"},
        headers=auth,
    )
    assert referral.status_code == 201, referral.text
    assert referral.json()["status"] == "pending"
    updated = await client.post(
        "/api/referral/update",
        json=[{"referralId": referral.json()["id"], "status": "approved"}],
        headers=auth,
    )
    assert updated.status_code == 200, updated.text
    (result,) = updated.json()
    assert result["resultInfo"]["status"] == "Success", result
    assert result["element"]["status"] == "approved"
    rewards = (await client.get("/api/rewards", headers=auth)).json()
    (reward,) = rewards["rewards"]
    assert (reward["status"], reward["amount"], reward["currency"]) == ("Pending", 20.0, "USD")
    issued = await client.post(
        "/api/rewards/issue", json=[{"rewardId": reward["id"]}], headers=auth
    )
    (issue_result,) = issued.json()
    assert issue_result["element"]["status"] == "Issued", issue_result
    return member.json(), hook.json()


async def test_acceptance_script_runs_unchanged_and_the_hook_is_delivered(
    client: httpx.AsyncClient, key: Key, worker: Worker, receiver: Receiver
) -> None:
    await create_program(client, key, reward_rules=RULES)
    member, hook = await _script(client, key, receiver.url)
    assert member["firstName"] == "Jane"
    assert member["lastName"] == "Doe"
    assert member["externalIdentifier"] == "user-1"
    assert member["referralUrl"].endswith("/r/" + member["referralCode"])

    assert await worker.run_once() >= 1
    bodies = [json.loads(r.body) for r in receiver.received]
    # One ReferralStatusChange for the update (pending → approved, through qualified).
    assert [b["status"] for b in bodies] == ["approved"]
    assert bodies[-1]["referringMemberId"] == member["id"]
    assert all(r.headers["webhook-signature"].startswith("v1,") for r in receiver.received)

    gone = await client.delete(f"/api/hooks/{hook['web_hook_id']}", headers=basic(key))
    assert gone.status_code == 200
    again = await client.delete(f"/api/hooks/{hook['web_hook_id']}", headers=basic(key))
    assert again.status_code == 404


async def test_members_update_and_remove_by_query_objects(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"], email="a@example.com", name="Al Bo")
    auth = basic(key)
    query = {
        "secondaryInfo": {"email": "a@example.com"},
        "tertiaryInfo": {"programName": program["slug"]},
    }
    response = await client.post(
        "/api/members/update",
        json=[
            {"query": query, "memberInfo": {"lastName": "Baker", "disabledFlag": True}},
            {"query": {"primaryInfo": {"referralCode": "NOPE-NOPE"}}, "memberInfo": {}},
        ],
        headers=auth,
    )
    assert response.status_code == 200, response.text
    ok, missing = response.json()
    assert ok["element"]["firstName"] == "Al"
    assert ok["element"]["lastName"] == "Baker"
    assert ok["element"]["disabledFlag"] is True
    assert missing["resultInfo"]["status"] == "Failure"
    stats = await client.get(
        "/api/memberstats/getsingle", params={"memberId": member["id"]}, headers=auth
    )
    assert stats.status_code == 200
    assert stats.json()["referrals"] == 0
    removed = await client.post(
        "/api/members/remove",
        json=[{"query": {"primaryInfo": {"memberId": member["id"]}}}],
        headers=auth,
    )
    assert removed.json()[0]["resultInfo"]["status"] == "Success"
    left = (await client.get(f"/api/members?programId={program['id']}", headers=auth)).json()
    assert left["total"] == 0


async def test_referral_single_remove_and_reward_rules(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key, reward_rules=RULES)
    member = await create_member(client, key, program["id"])
    auth = basic(key)
    created = await client.post(
        "/api/referrals",
        json={"referralCode": member["referral_code"], "email": "lead@example.com"},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    single = await client.get(
        "/api/referral/single",
        params={"email": "lead@example.com", "programId": program["id"]},
        headers=auth,
    )
    assert single.status_code == 200
    assert single.json()["id"] == created.json()["id"]
    rules = (await client.get("/api/rewardrules", headers=auth)).json()
    assert rules["total"] == 1
    assert rules["rewardRules"][0]["amount"] == 20.0
    removed = await client.post(
        "/api/referral/remove",
        json={"query": {"primaryInfo": {"referralId": created.json()["id"]}}},
        headers=auth,
    )
    assert removed.json()[0]["resultInfo"]["status"] == "Success", removed.text
    gone = await client.get(
        "/api/referral/single", params={"referralId": created.json()["id"]}, headers=auth
    )
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
    assert "message" in gone.json()


async def test_errors_answer_in_referral_rock_shape(client: httpx.AsyncClient, key: Key) -> None:
    unauthenticated = await client.get("/api/programs")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["code"] == "authentication_required"
    assert unauthenticated.json()["message"]
    invalid = await client.post("/api/members", json={"programId": "x"}, headers=basic(key))
    assert invalid.status_code == 422
    assert {e["field"] for e in invalid.json()["errors"]} >= {"firstName", "email"}
    program = await create_program(client, key)
    bad_email = await client.post(
        "/api/members",
        json={"programId": program["id"], "firstName": "A", "email": "not-an-email"},
        headers=basic(key),
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["errors"][0]["field"] == "email"
    hook = await client.post(
        "/api/hooks",
        json={"target_url": "https://example.com/h", "event": "EmailUnsubscribed"},
        headers=basic(key),
    )
    assert hook.status_code == 422


async def test_another_workspace_is_invisible(
    client: httpx.AsyncClient, key: Key, app: Any
) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    other = await new_key(app)
    listed = (await client.get("/api/programs", headers=basic(other))).json()
    assert listed["total"] == 0
    stats = await client.get(
        "/api/memberstats/getsingle", params={"memberId": member["id"]}, headers=basic(other)
    )
    assert stats.status_code == 404
    update = await client.post(
        "/api/members/update",
        json={
            "query": {"primaryInfo": {"memberId": member["id"]}},
            "memberInfo": {"lastName": "X"},
        },
        headers=basic(other),
    )
    assert update.json()[0]["resultInfo"]["status"] == "Failure"


async def test_compat_paths_do_not_shadow_the_api_or_redirects(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    v1 = await client.get("/api/v1/programs", headers=key.headers)
    assert v1.status_code == 200
    assert "data" in v1.json()
    redirect = await client.get(f"/api/c/{member['referral_code']}")
    assert redirect.status_code == 302


async def test_member_access_urls_open_the_embedded_dashboard(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, name="Friends")
    member = await create_member(client, key, program["id"], email="jo@example.com")
    response = await client.post(
        "/api/memberaccessurls",
        json={"emailAddress": "jo@example.com", "expireInMinutes": 30},
        headers=basic(key),
    )
    assert response.status_code == 200, response.text
    urls = response.json()
    assert urls["referralCode"] == member["referral_code"]
    assert urls["shareUrl"] == member["referral_link"]
    assert urls["whatsAppShareUrl"].startswith("https://wa.me/")
    page = await client.get(urls["fullEmbedUrl"].removeprefix("http://testserver"))
    assert page.status_code == 200
    assert member["referral_link"] in page.text
    ambiguous = await client.post(
        "/api/memberaccessurls",
        json={"memberId": member["id"], "referralCode": member["referral_code"]},
        headers=basic(key),
    )
    assert ambiguous.status_code == 422


async def test_manual_rewards_and_removal(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    auth = basic(key)
    created = await client.post(
        "/api/rewards",
        json=[
            {
                "memberQuery": {"primaryInfo": {"referralCode": member["referral_code"]}},
                "newReward": {"amount": 12.5, "description": "Contest prize"},
            }
        ],
        headers=auth,
    )
    assert created.status_code == 201, created.text
    (result,) = created.json()
    reward = result["element"]
    assert (reward["amount"], reward["currency"], reward["status"]) == (12.5, "USD", "Pending")
    removed = await client.post(
        "/api/rewards/remove", json={"rewardId": reward["id"]}, headers=auth
    )
    assert removed.json()[0]["element"]["status"] == "Cancelled"
    again = await client.post("/api/rewards/issue", json={"rewardId": reward["id"]}, headers=auth)
    assert again.json()[0]["resultInfo"]["status"] == "Failure"


async def test_scopes_and_test_mode_hold(client: httpx.AsyncClient, key: Key, app: Any) -> None:
    from referkit.auth.principal import Mode, Scope

    program = await create_program(client, key)
    name = (await client.get("/api/v1/workspace", headers=key.headers)).json()["name"]
    reader = await new_key(app, workspace=name, scope=Scope.read_only)
    refused = await client.post(
        "/api/members",
        json={"programId": program["id"], "firstName": "A", "email": "a@example.com"},
        headers=basic(reader),
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"
    assert (await client.get("/api/programs", headers=basic(reader))).json()["total"] == 1
    test_key = await new_key(app, workspace=name, mode=Mode.test)
    assert (await client.get("/api/programs", headers=basic(test_key))).json()["total"] == 0


async def test_hook_bodies_are_referral_rock_elements(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key, reward_rules=RULES)
    auth = basic(key)
    hooks = {}
    for event in ("MemberAdd", "RewardIssue", "ReferralAdd"):
        response = await client.post(
            "/api/hooks", json={"target_url": "https://example.com/h", "event": event}, headers=auth
        )
        hooks[event] = response.json()["web_hook_id"]
    member = await create_member(client, key, program["id"], email="h@example.com", name="Hal Ek")
    referral = await client.post(
        "/api/referrals",
        json={
            "referralCode": member["referral_code"],
            "email": "r@example.com",
            "status": "approved",
        },
        headers=auth,
    )
    assert referral.status_code == 201, referral.text
    reward = (await client.get("/api/rewards", headers=auth)).json()["rewards"][0]
    await client.post("/api/rewards/issue", json={"rewardId": reward["id"]}, headers=auth)

    async def payloads(event: str) -> list[dict[str, Any]]:
        url = f"/api/v1/webhooks/{hooks[event]}/messages"
        return [m["payload"] for m in (await client.get(url, headers=key.headers)).json()["data"]]

    (added,) = await payloads("MemberAdd")
    assert (added["firstName"], added["lastName"], added["email"]) == ("Hal", "Ek", "h@example.com")
    (lead,) = await payloads("ReferralAdd")
    assert (lead["email"], lead["referringMemberId"]) == ("r@example.com", member["id"])
    (issued,) = await payloads("RewardIssue")
    assert (issued["status"], issued["amount"]) == ("Issued", 20.0)
