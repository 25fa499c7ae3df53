"""The embedded dashboard's cache: a view of a cached dashboard reads nothing from the
database, and every write that changes what it shows is on the very next view (clicks,
signups and purchases through the event batcher, referral status, rewards, member and program
changes), in this process at once and, with Redis, in the others."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from referkit.config import Settings
from referkit.db.session import SessionFactory
from referkit.embed import tokens
from referkit.embed.cache import Board, DashboardCache, ProgramLook
from referkit.embed.schemas import EmbedMe
from referkit.embed.tokens import EmbedClaims
from referkit.link.cache import LinkCache
from referkit.link.changes import LinkChanges
from tests.conftest import running
from tests.factories import Key, create_member, create_program, new_key

HOST = "https://shop.example.com"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
REDIS_URL = os.environ.get("REFERKIT_TEST_REDIS_URL")
RULES = [
    {
        "recipient": "referrer",
        "trigger": "referral_qualified",
        "kind": "cash",
        "amount": 2000,
        "currency": "USD",
    },
    {
        "recipient": "referrer",
        "trigger": "milestone",
        "milestone_count": 3,
        "kind": "cash",
        "amount": 5000,
        "currency": "USD",
    },
]


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs meanwhile."""
    sessions: SessionFactory = app.state.sessions
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    engine = sessions.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def token_for(client: httpx.AsyncClient, key: Key, member_id: str) -> str:
    response = await client.post(f"/api/v1/members/{member_id}/embed-token", headers=key.headers)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def me(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.get(
        "/api/v1/embed/me", headers={"Authorization": f"Bearer {token}", "Origin": HOST}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def api_view(client: httpx.AsyncClient, key: Key, member_id: str) -> dict[str, Any]:
    """What the domain APIs say the dashboard should show."""
    stats = await client.get(f"/api/v1/members/{member_id}/stats", headers=key.headers)
    referrals = await client.get(
        "/api/v1/referrals", params={"member_id": member_id}, headers=key.headers
    )
    data = stats.json()
    return {
        "stats": {n: data[n] for n in ("reach", "clicks", "referrals", "qualified_referrals")},
        "rewards": data["rewards"],
        "statuses": sorted(r["status"] for r in referrals.json()["data"]),
    }


def shown(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "stats": data["stats"],
        "rewards": data["rewards"],
        "statuses": sorted(r["status"] for r in data["recent_referrals"]),
    }


async def test_a_cached_dashboard_reads_nothing_from_the_database(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, allowed_origins=[HOST], reward_rules=RULES)
    member = await create_member(client, key, program["id"])
    token = await token_for(client, key, member["id"])
    first = await me(client, token)
    page = await client.get("/embed/referrer", params={"token": token})
    assert page.status_code == 200
    with statements(app) as seen:
        assert await me(client, token) == first
        again = await client.get("/embed/referrer", params={"token": token})
    assert seen == []
    assert again.status_code == 200
    # A fresh nonce for every answer, in the page and in its CSP.
    nonces = [
        r.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
        for r in (page, again)
    ]
    assert nonces[0] != nonces[1]
    assert page.text.replace(nonces[0], "N") == again.text.replace(nonces[1], "N")
    assert f'nonce="{nonces[1]}"' in again.text


async def test_clicks_signups_purchases_and_reward_changes_show_on_the_next_view(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(
        client,
        key,
        allowed_origins=[HOST],
        reward_rules=RULES,
        qualification={"event": "purchase", "min_amount": 1000, "currency": "USD"},
    )
    member = await create_member(client, key, program["id"], email="jane@example.com")
    token = await token_for(client, key, member["id"])
    assert shown(await me(client, token)) == await api_view(client, key, member["id"])

    # A click on the member's link (the click batcher's own transaction).
    opened = await client.get(member["referral_link"], headers={"User-Agent": BROWSER})
    assert opened.status_code == 302
    data = await me(client, token)
    assert (data["stats"]["clicks"], data["stats"]["reach"]) == (1, 1)
    assert shown(data) == await api_view(client, key, member["id"])

    # A signup with the click id, then a qualifying purchase (the event batcher's session).
    click_id = parse_qs(urlsplit(opened.headers["location"]).query)["rk_click"][0]
    customer = {"external_id": f"c-{uuid.uuid4().hex[:8]}", "email": "sam@example.com"}
    events: list[dict[str, Any]] = [
        {"event_id": "signup-1", "type": "signup", "click_id": click_id, "customer": customer},
        {
            "event_id": "order-1",
            "type": "purchase",
            "customer": customer,
            "amount": 4900,
            "currency": "USD",
        },
    ]
    expected = [(1, 0, "pending"), (1, 1, "qualified")]
    for body, (referrals, qualified, status) in zip(events, expected, strict=True):
        response = await client.post("/api/v1/events", json=body, headers=key.headers)
        assert response.status_code == 201, response.text
        data = await me(client, token)
        assert (data["stats"]["referrals"], data["stats"]["qualified_referrals"]) == (
            referrals,
            qualified,
        )
        assert data["recent_referrals"][0]["status"] == status
        assert data["recent_referrals"][0]["referee"] == "s***@example.com"
        assert shown(data) == await api_view(client, key, member["id"])
    assert data["rewards"] == [{"unit": "USD", "earned": 2000, "pending": 2000, "issued": 0}]
    assert data["milestones"][0]["count"] == 1

    # Issuing the reward (the reward ledger).
    rewards = await client.get(
        "/api/v1/rewards", params={"member_id": member["id"]}, headers=key.headers
    )
    reward_id = rewards.json()["data"][0]["id"]
    issued = await client.post(
        f"/api/v1/rewards/{reward_id}/issue", json={"override_hold": True}, headers=key.headers
    )
    assert issued.status_code == 200, issued.text
    data = await me(client, token)
    assert data["rewards"] == [{"unit": "USD", "earned": 2000, "pending": 0, "issued": 2000}]

    # Denying the referral (its status).
    referral_id = data["recent_referrals"][0]["id"]
    denied = await client.patch(
        f"/api/v1/referrals/{referral_id}", json={"status": "denied"}, headers=key.headers
    )
    assert denied.status_code == 200, denied.text
    data = await me(client, token)
    assert data["recent_referrals"][0]["status"] == "denied"
    assert shown(data) == await api_view(client, key, member["id"])

    # The page shows the same numbers as the JSON.
    page = await client.get("/embed/referrer", params={"token": token})
    for name in ("reach", "referrals", "qualified_referrals"):
        assert f'data-stat="{name}">{data["stats"][name]}<' in page.text


async def test_member_and_program_changes_show_at_once(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key, name="Before", allowed_origins=[HOST])
    member = await create_member(client, key, program["id"], email="a@example.com", name="Ann")
    token = await token_for(client, key, member["id"])
    page = await client.get("/embed/referrer", params={"token": token})
    assert "Before" in page.text
    assert (await me(client, token))["member"]["name"] == "Ann"

    renamed = await client.patch(
        f"/api/v1/members/{member['id']}", json={"name": "Anna"}, headers=key.headers
    )
    assert renamed.status_code == 200, renamed.text
    assert (await me(client, token))["member"]["name"] == "Anna"

    other = "https://other.example.com"
    changed = await client.patch(
        f"/api/v1/programs/{program['id']}",
        json={"name": "After", "allowed_origins": [other], "embed": {"theme": "dark"}},
        headers=key.headers,
    )
    assert changed.status_code == 200, changed.text
    page = await client.get("/embed/referrer", params={"token": token})
    assert "After" in page.text
    assert 'data-theme="dark"' in page.text
    assert page.headers["content-security-policy"].endswith(f"frame-ancestors {other}")
    response = await client.get(
        "/api/v1/embed/me", headers={"Authorization": f"Bearer {token}", "Origin": HOST}
    )
    assert "access-control-allow-origin" not in response.headers  # no longer allowed

    # Disabled: refused at once, by the page and the API.
    disabled = await client.patch(
        f"/api/v1/members/{member['id']}", json={"status": "disabled"}, headers=key.headers
    )
    assert disabled.status_code == 200, disabled.text
    refused = await client.get("/api/v1/embed/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert refused.json()["code"] == "embed_token_revoked"
    page = await client.get("/embed/referrer", params={"token": token})
    assert page.status_code == 401
    assert "not available" in page.text


async def test_a_deleted_program_or_member_is_refused_at_once(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    token = await token_for(client, key, member["id"])
    await me(client, token)
    deleted = await client.delete(f"/api/v1/members/{member['id']}", headers=key.headers)
    assert deleted.status_code == 204, deleted.text
    refused = await client.get("/api/v1/embed/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.json()["code"] == "embed_token_revoked"

    member = await create_member(client, key, program["id"])
    token = await token_for(client, key, member["id"])
    await me(client, token)
    gone = await client.delete(f"/api/v1/programs/{program['id']}", headers=key.headers)
    assert gone.status_code == 204, gone.text
    refused = await client.get("/api/v1/embed/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


async def test_an_expired_token_is_refused_even_when_its_dashboard_is_cached(
    client: httpx.AsyncClient, key: Key, settings: Settings
) -> None:
    program = await create_program(client, key, allowed_origins=[HOST])
    member = await create_member(client, key, program["id"])
    await me(client, await token_for(client, key, member["id"]))
    now = int(time.time())
    claims = EmbedClaims(
        workspace_id=key.workspace_id,
        livemode=True,
        program_id=program["id"],
        member_id=member["id"],
        issued_at=now - 120,
        expires_at=now - 60,
        token_id="expired",
    )
    expired = tokens.sign(claims, tokens.derive_key(settings.signing_key))
    response = await client.get(
        "/api/v1/embed/me", headers={"Authorization": f"Bearer {expired}", "Origin": HOST}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "embed_token_expired"
    assert response.headers["access-control-allow-origin"] == HOST


async def test_the_cache_can_be_turned_off(settings: Settings) -> None:
    async with running(settings, embed_cache_ttl_seconds=0) as (app, http):
        key = await new_key(app)
        program = await create_program(http, key)
        member = await create_member(http, key, program["id"])
        token = await token_for(http, key, member["id"])
        await me(http, token)
        with statements(app) as seen:
            await me(http, token)
        assert seen  # read afresh


def _board(member_id: str = "mem_1") -> Board:
    claims = EmbedClaims("ws_1", True, "prog_1", member_id, 0, 4_000_000_000, "t")
    me = EmbedMe.model_validate(
        {
            "member": {"id": member_id, "name": None, "referral_code": "C", "referral_link": "L"},
            "program": {"id": "prog_1", "name": "P"},
            "stats": {"reach": 0, "clicks": 0, "referrals": 0, "qualified_referrals": 0},
            "rewards_earned": None,
            "rewards": [],
            "milestones": [],
            "recent_referrals": [],
            "share": dict.fromkeys(("email", "sms", "whatsapp", "x", "linkedin", "facebook"), ""),
            "expires_at": claims.expires_at_datetime,
        }
    )
    return Board.of(me, claims, ProgramLook([], {}))


def test_a_fill_that_raced_a_change_is_not_kept() -> None:
    cache = DashboardCache(60)
    board = _board()
    claims = EmbedClaims("ws_1", True, "prog_1", "mem_1", 0, 4_000_000_000, "t")
    read_at = cache.generation
    cache.drop(LinkChanges(dashboards={"mem_1"}))  # committed while the fill was reading
    cache.put(board, read_at=read_at)
    assert cache.get(claims) is None
    cache.drop(LinkChanges(dashboards={"mem_2"}))  # another member's change does not matter
    read_at = cache.generation
    cache.drop(LinkChanges(dashboards={"mem_2"}))
    cache.put(board, read_at=read_at)
    assert cache.get(claims) is board
    # A token naming another program, workspace or mode never gets this member's board.
    for other in (
        EmbedClaims("ws_1", True, "prog_2", "mem_1", 0, 4_000_000_000, "t"),
        EmbedClaims("ws_2", True, "prog_1", "mem_1", 0, 4_000_000_000, "t"),
        EmbedClaims("ws_1", False, "prog_1", "mem_1", 0, 4_000_000_000, "t"),
    ):
        assert cache.get(other) is None
    cache.drop(LinkChanges(dashboard_programs={"prog_1"}))
    assert cache.get(claims) is None
    read_at = cache.generation
    cache.clear()
    cache.put(board, read_at=read_at)
    assert cache.get(claims) is None


@pytest.mark.skipif(not REDIS_URL, reason="needs REFERKIT_TEST_REDIS_URL")
async def test_another_processs_change_reaches_the_cache_through_redis(
    settings: Settings,
) -> None:
    assert REDIS_URL is not None
    shared = {"redis_url": REDIS_URL, "redis_prefix": f"t-{uuid.uuid4().hex}"}
    async with running(settings, embed_cache_ttl_seconds=300, **shared) as (app, http):
        links: LinkCache = app.state.link_cache
        assert links.bus is not None
        assert links.bus.connected
        key = await new_key(app)
        program = await create_program(http, key)
        member = await create_member(http, key, program["id"])
        token = await token_for(http, key, member["id"])
        await me(http, token)
        dashboards: DashboardCache = app.state.dashboards
        assert dashboards._entries
        # Another process's link cache: its changes reach this one through Redis only.
        elsewhere = LinkCache(links.engine, 300, redis_url=REDIS_URL, prefix=shared["redis_prefix"])
        await elsewhere.start()
        try:
            elsewhere.invalidate(LinkChanges(dashboards={member["id"]}))
            deadline = time.monotonic() + 3
            while member["id"] in dashboards._entries:
                assert time.monotonic() < deadline, "the change did not arrive"
                await asyncio.sleep(0.02)
        finally:
            await elsewhere.close()
