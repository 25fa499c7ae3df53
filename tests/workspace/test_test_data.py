"""Test mode: test keys work on test rows only, and test data can be wiped in one call."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from referkit.auth.principal import Mode
from tests.factories import Key, create_member, create_program, create_referral, new_key


async def test_wipe_test_data_keeps_live_data(
    client: httpx.AsyncClient, app: FastAPI, key: Key
) -> None:
    live_program = await create_program(client, key)
    test_key = await new_key(app, mode=Mode.test)
    # new_key makes a fresh workspace; use one in the same workspace as `key`.
    sibling = await new_key(app, workspace=await _workspace_name(client, key), mode=Mode.test)
    assert test_key.workspace_id != sibling.workspace_id
    program = await create_program(client, sibling)
    member = await create_member(client, sibling, program["id"])
    await create_referral(client, sibling, member["referral_code"])

    wiped = await client.delete("/api/v1/test-data", headers=sibling.headers)
    assert wiped.status_code == 200, wiped.text
    deleted = wiped.json()["deleted"]
    assert {name: deleted[name] for name in ("programs", "members", "referrals")} == {
        "programs": 1,
        "members": 1,
        "referrals": 1,
    }
    assert deleted["links"] == 1  # the member's default link
    assert "api_keys" not in deleted
    gone = await client.get(f"/api/v1/programs/{program['id']}", headers=sibling.headers)
    assert gone.status_code == 404
    kept = await client.get(f"/api/v1/programs/{live_program['id']}", headers=key.headers)
    assert kept.status_code == 200
    # The test key itself still works.
    assert (await client.get("/api/v1/programs", headers=sibling.headers)).status_code == 200


async def _workspace_name(client: httpx.AsyncClient, key: Key) -> str:
    name: str = (await client.get("/api/v1/workspace", headers=key.headers)).json()["name"]
    return name


async def test_live_key_cannot_wipe(client: httpx.AsyncClient, key: Key) -> None:
    answer = await client.delete("/api/v1/test-data", headers=key.headers)
    assert answer.status_code == 403
    assert answer.json()["code"] == "insufficient_scope"
