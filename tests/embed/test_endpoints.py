"""Embed tokens and ``/api/v1/embed/me`` over HTTP: issuing (scopes, tenancy, lifetimes),
using (expiry, revocation, rate limit, CORS) and the data matching the domain APIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Mode, Scope
from referkit.config import Settings
from referkit.embed import tokens
from tests.conftest import running
from tests.factories import Key, create_member, create_program, create_referral, new_key

HOST = "https://shop.example.com"


def token_url(member_id: str) -> str:
    return f"/api/v1/members/{member_id}/embed-token"


async def issue(client: httpx.AsyncClient, key: Key, member_id: str, **body: Any) -> str:
    response = await client.post(token_url(member_id), json=body or None, headers=key.headers)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def me(client: httpx.AsyncClient, token: str, origin: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if origin:
        headers["Origin"] = origin
    return await client.get("/api/v1/embed/me", headers=headers)


@pytest.fixture
async def program(client: httpx.AsyncClient, key: Key) -> dict[str, Any]:
    return await create_program(client, key, allowed_origins=[HOST])


async def test_member_token_answers_a_short_lived_url(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    member = await create_member(client, key, program["id"])
    before = datetime.now(UTC)
    response = await client.post(token_url(member["id"]), headers=key.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"].startswith("rke1.")
    assert body["url"] == f"http://testserver/embed/referrer?token={body['token']}"
    assert (body["member_id"], body["program_id"]) == (member["id"], program["id"])
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=59) < expires - before <= timedelta(hours=1, seconds=1)
    # The secret key never appears in it.
    assert key.secret not in body["token"]

    day = await client.post(
        token_url(member["id"]), json={"expires_in_seconds": 86_400}, headers=key.headers
    )
    assert datetime.fromisoformat(day.json()["expires_at"]) - before > timedelta(hours=23)


@pytest.mark.parametrize("seconds", [0, 59, 86_401, "3600", True])
async def test_lifetime_is_bounded(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any], seconds: Any
) -> None:
    member = await create_member(client, key, program["id"])
    response = await client.post(
        token_url(member["id"]), json={"expires_in_seconds": seconds}, headers=key.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "expires_in_seconds"


async def test_program_token_creates_or_fetches_the_member(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    url = f"/api/v1/programs/{program['id']}/embed-token"
    body = {"email": "Sam@Example.com", "external_id": "user_1", "name": "Sam"}
    first = await client.post(url, json=body, headers=key.headers)
    assert first.status_code == 200, first.text
    again = await client.post(
        url, json={"external_id": "user_1", "expires_in_seconds": 600}, headers=key.headers
    )
    assert again.status_code == 200, again.text
    assert first.json()["member_created"] is True
    assert again.json()["member_created"] is False
    assert first.json()["member"]["id"] == again.json()["member"]["id"]
    assert first.json()["token"] != again.json()["token"]
    listed = await client.get(
        f"/api/v1/programs/{program['id']}/members", params={"q": "user_1"}, headers=key.headers
    )
    assert len(listed.json()["data"]) == 1
    # The member rules are the member service's: two identifiers of two people conflict.
    await create_member(client, key, program["id"], email="other@example.com")
    clash = await client.post(
        url, json={"email": "other@example.com", "external_id": "user_1"}, headers=key.headers
    )
    assert clash.status_code == 409
    missing = await client.post(url, json={"name": "nobody"}, headers=key.headers)
    assert missing.status_code == 422


async def test_only_full_keys_issue_tokens_and_only_for_their_own_members(
    app: FastAPI, client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    member = await create_member(client, key, program["id"])
    for scope in (Scope.read_only, Scope.analytics):
        weak = await new_key(app, workspace=None, scope=scope)
        refused = await client.post(token_url(member["id"]), headers=weak.headers)
        assert refused.status_code == 403
    same_ws_reader = await new_key(app, scope=Scope.read_only)
    assert (
        await client.post(token_url(member["id"]), headers=same_ws_reader.headers)
    ).status_code == 403
    stranger = await new_key(app)
    assert (await client.post(token_url(member["id"]), headers=stranger.headers)).status_code == 404
    other_program = await client.post(
        f"/api/v1/programs/{program['id']}/embed-token",
        json={"email": "x@example.com"},
        headers=stranger.headers,
    )
    assert other_program.status_code == 404
    test_key = await new_key(app, mode=Mode.test)
    assert (await client.post(token_url(member["id"]), headers=test_key.headers)).status_code == 404
    assert (await client.post(token_url("mem_nope"), headers=key.headers)).status_code == 404


async def test_me_matches_the_domain_apis(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    member = await create_member(client, key, program["id"], email="jane@example.com")
    await create_referral(client, key, member["referral_code"], email="sam@example.com")
    await create_referral(client, key, member["referral_code"], external_id="no-email")
    token = await issue(client, key, member["id"])

    response = await me(client, token)
    assert response.status_code == 200, response.text
    data = response.json()
    stats = (await client.get(f"/api/v1/members/{member['id']}/stats", headers=key.headers)).json()
    for name in ("reach", "clicks", "referrals", "qualified_referrals"):
        assert data["stats"][name] == stats[name], name
    assert data["stats"]["referrals"] == 2
    assert data["rewards"] == stats["rewards"]
    assert data["member"] == {
        "id": member["id"],
        "name": member["name"],
        "referral_code": member["referral_code"],
        "referral_link": member["referral_link"],
    }
    recent = data["recent_referrals"]
    assert [r["referee"] for r in recent] == ["A friend", "s***@example.com"]
    assert {r["status"] for r in recent} == {"pending"}
    assert "sam@example.com" not in response.text
    assert data["share"]["whatsapp"].startswith("https://wa.me/?text=")
    assert member["referral_link"].replace(":", "%3A").replace("/", "%2F") in data["share"]["x"]
    assert data["milestones"] == []
    assert response.headers["cache-control"] == "no-store"


async def test_milestone_progress_comes_from_the_reward_rules(
    client: httpx.AsyncClient, key: Key
) -> None:
    rules = [
        {
            "recipient": "referrer",
            "trigger": "milestone",
            "milestone_count": 3,
            "kind": "cash",
            "amount": 5000,
            "currency": "USD",
            "description": "$50 at 3 friends",
        },
        {
            "recipient": "referee",
            "trigger": "milestone",
            "milestone_count": 1,
            "kind": "points",
            "amount": 10,
        },
    ]
    program = await create_program(client, key, reward_rules=rules)
    member = await create_member(client, key, program["id"])
    referral = await create_referral(client, key, member["referral_code"])
    patched = await client.patch(
        f"/api/v1/referrals/{referral['id']}", json={"status": "qualified"}, headers=key.headers
    )
    assert patched.status_code == 200, patched.text
    data = (await me(client, await issue(client, key, member["id"]))).json()
    assert len(data["milestones"]) == 1  # referrer milestones only
    milestone = data["milestones"][0]
    assert (milestone["count"], milestone["target"], milestone["reached"]) == (1, 3, False)
    assert milestone["description"] == "$50 at 3 friends"


async def test_disabled_or_deleted_members_tokens_are_revoked_at_use(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    disabled = await create_member(client, key, program["id"])
    deleted = await create_member(client, key, program["id"])
    tokens_ = {m["id"]: await issue(client, key, m["id"]) for m in (disabled, deleted)}
    await client.patch(
        f"/api/v1/members/{disabled['id']}", json={"status": "disabled"}, headers=key.headers
    )
    await client.delete(f"/api/v1/members/{deleted['id']}", headers=key.headers)
    for token in tokens_.values():
        response = await me(client, token, origin=HOST)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "embed_token_revoked"
        # The host page may read the refusal (to fetch a new token).
        assert response.headers["access-control-allow-origin"] == HOST
    # And no new token is handed out for them.
    again = await client.post(token_url(disabled["id"]), headers=key.headers)
    assert again.status_code == 422
    assert again.json()["code"] == "member_disabled"
    assert (await client.post(token_url(deleted["id"]), headers=key.headers)).status_code == 404


async def test_expired_forged_and_missing_tokens(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any], settings: Settings
) -> None:
    member = await create_member(client, key, program["id"])
    claims = tokens.new_claims(
        workspace_id=key.workspace_id,
        livemode=True,
        program_id=program["id"],
        member_id=member["id"],
        now=datetime.now(UTC) - timedelta(hours=2),
        ttl_seconds=3600,
    )
    signing_key = tokens.derive_key(settings.signing_key)
    expired = await me(client, tokens.sign(claims, signing_key))
    assert expired.status_code == 401
    assert expired.json()["code"] == "embed_token_expired"

    good = await issue(client, key, member["id"])
    head, _payload, signature = good.split(".")
    forged_claims = tokens.EmbedClaims(**{**claims.__dict__, "expires_at": 2**40})
    forged_payload = tokens.sign(forged_claims, b"another key" * 4).split(".")[1]
    for bad in (f"{head}.{forged_payload}.{signature}", good[:-2], "rke1.x.y", "nonsense"):
        response = await me(client, bad)
        assert response.status_code == 401, bad
        assert response.json()["code"] == "embed_token_invalid"
    missing = await client.get("/api/v1/embed/me")
    assert missing.status_code == 401
    assert missing.json()["code"] == "authentication_required"
    # An API key is not an embed token.
    assert (await client.get("/api/v1/embed/me", headers=key.headers)).status_code == 401


async def test_tokens_are_read_only(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    member = await create_member(client, key, program["id"])
    token = await issue(client, key, member["id"])
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get(f"/api/v1/members/{member['id']}", headers=bearer)).status_code == 401
    assert (await client.post(token_url(member["id"]), headers=bearer)).status_code == 401
    write = await client.patch(
        f"/api/v1/members/{member['id']}", json={"name": "x"}, headers=bearer
    )
    assert write.status_code == 401


async def test_cors_answers_allowed_origins_only(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    member = await create_member(client, key, program["id"])
    token = await issue(client, key, member["id"])
    allowed = await me(client, token, origin=HOST)
    assert allowed.headers["access-control-allow-origin"] == HOST
    assert "Origin" in allowed.headers["vary"]
    other = await me(client, token, origin="https://evil.example.net")
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers
    preflight = await client.options(
        "/api/v1/embed/me",
        headers={
            "Origin": HOST,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-headers"] == "Authorization"
    assert preflight.headers["access-control-allow-origin"] == HOST


async def test_each_token_has_its_own_rate_limit(settings: Settings) -> None:
    async with running(settings, embed_rate_limit_per_minute=3) as (application, http):
        key = await new_key(application)
        program = await create_program(http, key)
        member = await create_member(http, key, program["id"])
        first, second = await issue(http, key, member["id"]), await issue(http, key, member["id"])
        answers = [(await me(http, first)).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        limited = await me(http, first)
        assert limited.json()["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["ratelimit-limit"] == "3"
        page = await http.get("/embed/referrer", params={"token": first})
        assert page.status_code == 429
        assert "Too many requests" in page.text
        assert (await me(http, second)).status_code == 200
