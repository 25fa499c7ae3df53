"""GET /api/v1/workspace: the caller's workspace, its plan of limits and its usage by mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from referkit.auth.principal import Mode, Scope
from tests.factories import Key, create_member, create_program, create_referral, new_key

USAGE = ("programs", "members", "referrals", "api_keys")
PLAN = ("name", "rate_limit_per_minute", "max_page_size", "max_batch_size")


async def describe(client: httpx.AsyncClient, key: Key) -> dict[str, Any]:
    """The workspace, with ``usage`` and ``plan`` cut to the fields these tests know
    (the API may add fields freely)."""
    response = await client.get("/api/v1/workspace", headers=key.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["usage"] = {name: body["usage"][name] for name in USAGE}
    body["plan"] = {name: body["plan"][name] for name in PLAN}
    return body


async def test_describes_the_callers_workspace(client: httpx.AsyncClient, app: FastAPI) -> None:
    key = await new_key(app, workspace="acme-referrals")
    body = await describe(client, key)
    assert body["id"] == key.workspace_id
    assert body["id"].startswith("ws_")
    assert body["name"] == "acme-referrals"
    assert body["mode"] == "live"
    created = datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() == timedelta(0)
    assert datetime.now(UTC) - created < timedelta(minutes=5)
    assert body["plan"] == {
        "name": "self-hosted",
        "rate_limit_per_minute": 600,
        "max_page_size": 100,
        "max_batch_size": 1000,
    }
    assert body["usage"] == {"programs": 0, "members": 0, "referrals": 0, "api_keys": 1}


async def test_keys_of_one_workspace_agree(client: httpx.AsyncClient, app: FastAPI) -> None:
    first = await new_key(app, workspace="shared-ws")
    second = await new_key(app, workspace="shared-ws", scope=Scope.read_only)
    one, two = await describe(client, first), await describe(client, second)
    assert one["id"] == two["id"] == first.workspace_id == second.workspace_id
    assert (
        one["usage"]
        == two["usage"]
        == {
            "programs": 0,
            "members": 0,
            "referrals": 0,
            "api_keys": 2,
        }
    )


async def test_plan_reports_the_keys_own_rate_limit(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    key = await new_key(app, rate_limit_per_minute=30)
    assert (await describe(client, key))["plan"]["rate_limit_per_minute"] == 30


async def test_usage_follows_programs_members_and_referrals(
    client: httpx.AsyncClient, key: Key
) -> None:
    def usage(programs: int, members: int, referrals: int, api_keys: int = 1) -> dict[str, int]:
        return {
            "programs": programs,
            "members": members,
            "referrals": referrals,
            "api_keys": api_keys,
        }

    program = await create_program(client, key)
    assert (await describe(client, key))["usage"] == usage(1, 0, 0)

    member = await create_member(client, key, program["id"])
    assert (await describe(client, key))["usage"] == usage(1, 1, 0)

    # Fetching an existing member does not count twice.
    await create_member(client, key, program["id"], email=member["email"])
    assert (await describe(client, key))["usage"] == usage(1, 1, 0)

    await create_referral(client, key, member["referral_code"])
    await create_referral(client, key, member["referral_code"])
    assert (await describe(client, key))["usage"] == usage(1, 1, 2)

    other = await create_program(client, key)
    other_member = await create_member(client, key, other["id"])
    await create_referral(client, key, other_member["referral_code"])
    assert (await describe(client, key))["usage"] == usage(2, 2, 3)

    deleted = await client.delete(f"/api/v1/members/{member['id']}", headers=key.headers)
    assert deleted.status_code == 204
    assert (await describe(client, key))["usage"] == usage(2, 1, 3)

    # Deleting a program removes its members and referrals.
    deleted = await client.delete(f"/api/v1/programs/{other['id']}", headers=key.headers)
    assert deleted.status_code == 204
    assert (await describe(client, key))["usage"] == usage(1, 0, 2)


async def test_usage_counts_active_keys(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.post(
        "/api/v1/keys", json={"name": "second", "scope": "read_only"}, headers=key.headers
    )
    assert response.status_code == 201
    assert (await describe(client, key))["usage"]["api_keys"] == 2

    revoked = await client.delete(f"/api/v1/keys/{response.json()['id']}", headers=key.headers)
    assert revoked.status_code == 204
    assert (await describe(client, key))["usage"]["api_keys"] == 1


async def test_test_mode_usage_is_separate(client: httpx.AsyncClient, app: FastAPI) -> None:
    live = await new_key(app, workspace="two-modes")
    test = await new_key(app, workspace="two-modes", mode=Mode.test)

    program = await create_program(client, live)
    member = await create_member(client, live, program["id"])
    await create_referral(client, live, member["referral_code"])

    test_view = await describe(client, test)
    assert test_view["id"] == live.workspace_id
    assert test_view["mode"] == "test"
    assert test_view["usage"] == {"programs": 0, "members": 0, "referrals": 0, "api_keys": 1}

    test_program = await create_program(client, test)
    await create_program(client, test)
    test_member = await create_member(client, test, test_program["id"])
    await create_referral(client, test, test_member["referral_code"])

    assert (await describe(client, test))["usage"] == {
        "programs": 2,
        "members": 1,
        "referrals": 1,
        "api_keys": 1,
    }
    live_view = await describe(client, live)
    assert live_view["mode"] == "live"
    assert live_view["usage"] == {"programs": 1, "members": 1, "referrals": 1, "api_keys": 1}


async def test_other_workspaces_do_not_count(client: httpx.AsyncClient, app: FastAPI) -> None:
    mine, theirs = await new_key(app), await new_key(app)
    program = await create_program(client, theirs)
    await create_member(client, theirs, program["id"])
    body = await describe(client, mine)
    assert body["id"] != theirs.workspace_id
    assert body["usage"] == {"programs": 0, "members": 0, "referrals": 0, "api_keys": 1}
