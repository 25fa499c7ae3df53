"""Tenancy: every query is scoped to the key's workspace and mode; anything else answers 404.

Workspace B must not read, change or delete workspace A's objects, nor find them in lists or by
referral code. A test-mode key sees only test-mode objects of its own workspace, and vice versa.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Mode
from tests.factories import Key, create_member, create_program, create_referral, new_key

PROBLEM = "application/problem+json"

# (method, path, body) for every single-object route; ids filled from the owner's objects.
OBJECT_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/programs/{program_id}", None),
    ("PATCH", "/api/v1/programs/{program_id}", {"name": "Hijacked", "status": "paused"}),
    ("DELETE", "/api/v1/programs/{program_id}", None),
    ("GET", "/api/v1/programs/{program_id}/members", None),
    ("GET", "/api/v1/programs/{program_id}/breakdown?group_by=country", None),
    ("POST", "/api/v1/programs/{program_id}/members", {"email": "intruder@example.com"}),
    ("GET", "/api/v1/members/{member_id}", None),
    ("PATCH", "/api/v1/members/{member_id}", {"name": "Hijacked", "status": "disabled"}),
    ("DELETE", "/api/v1/members/{member_id}", None),
    ("GET", "/api/v1/referrals/{referral_id}", None),
    ("PATCH", "/api/v1/referrals/{referral_id}", {"status": "denied", "note": "hijacked"}),
    ("GET", "/api/v1/keys/{key_id}", None),
    ("PATCH", "/api/v1/keys/{key_id}", {"name": "Hijacked"}),
    ("POST", "/api/v1/keys/{key_id}/regenerate", None),
    ("DELETE", "/api/v1/keys/{key_id}", None),
]
DATA_ROUTES = [route for route in OBJECT_ROUTES if "/keys/" not in route[1]]
"""The routes of workspace data. API keys are the exception to mode isolation in one direction
only: a live key manages the test keys it can create (tests/auth/test_endpoints.py)."""


@dataclass(frozen=True)
class Owned:
    key: Key
    workspace: str
    program: dict[str, Any]
    member: dict[str, Any]
    referral: dict[str, Any]
    extra_key: dict[str, Any]

    @property
    def ids(self) -> dict[str, str]:
        return {
            "program_id": self.program["id"],
            "member_id": self.member["id"],
            "referral_id": self.referral["id"],
            "key_id": self.extra_key["id"],
        }

    def fill(self, value: Any) -> Any:
        return value.format(**self.ids) if isinstance(value, str) else value


async def populate(client: httpx.AsyncClient, key: Key) -> Owned:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    referral = await create_referral(client, key, member["referral_code"])
    response = await client.post(
        "/api/v1/keys", json={"name": "extra", "scope": "full"}, headers=key.headers
    )
    assert response.status_code == 201, response.text
    workspace = await client.get("/api/v1/workspace", headers=key.headers)
    return Owned(
        key=key,
        workspace=workspace.json()["name"],
        program=program,
        member=member,
        referral=referral,
        extra_key=response.json(),
    )


async def view(client: httpx.AsyncClient, owned: Owned) -> dict[str, Any]:
    """What the owner sees of its objects (key rows without last_used_at)."""
    headers = owned.key.headers
    seen: dict[str, Any] = {}
    for name, path in (
        ("program", f"/api/v1/programs/{owned.program['id']}"),
        ("member", f"/api/v1/members/{owned.member['id']}"),
        ("referral", f"/api/v1/referrals/{owned.referral['id']}"),
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        seen[name] = response.json()
    keys = (await client.get("/api/v1/keys", headers=headers)).json()["data"]
    seen["keys"] = sorted(
        ({k: v for k, v in row.items() if k != "last_used_at"} for row in keys),
        key=lambda row: row["id"],
    )
    extra = await client.get(
        "/api/v1/workspace", headers={"Authorization": f"Bearer {owned.extra_key['secret']}"}
    )
    seen["extra_key_works"] = extra.status_code == 200
    return seen


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "not_found"


@pytest.fixture
async def owner(client: httpx.AsyncClient, key: Key) -> Owned:
    return await populate(client, key)


# --- another workspace ------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), OBJECT_ROUTES)
async def test_other_workspace_gets_404_and_changes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    owner: Owned,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    intruder = await new_key(app)
    assert intruder.workspace_id != owner.key.workspace_id
    before = await view(client, owner)

    response = await client.request(method, owner.fill(path), json=body, headers=intruder.headers)

    assert_not_found(response)
    # Indistinguishable from an id that exists nowhere.
    ghost = {name: value.split("_")[0] + "_" + "0" * 26 for name, value in owner.ids.items()}
    unknown = await client.request(
        method, path.format(**ghost), json=body, headers=intruder.headers
    )
    assert_not_found(unknown)
    expected = unknown.text
    for name, value in ghost.items():
        expected = expected.replace(value, owner.ids[name])
    assert response.text == expected
    assert await view(client, owner) == before
    assert before["extra_key_works"]


async def test_lists_never_show_another_workspaces_rows(
    client: httpx.AsyncClient, app: FastAPI, owner: Owned
) -> None:
    intruder_key = await new_key(app)
    mine = await populate(client, intruder_key)
    owner_ids = set(owner.ids.values())

    for path, params in (
        ("/api/v1/programs", {}),
        ("/api/v1/programs", {"offset": 0, "count": 100}),
        ("/api/v1/referrals", {}),
        ("/api/v1/referrals", {"program_id": owner.program["id"]}),
        ("/api/v1/referrals", {"member_id": owner.member["id"]}),
        ("/api/v1/referrals", {"q": owner.referral["referee"]["email"]}),
        ("/api/v1/keys", {}),
        ("/api/v1/keys", {"include_revoked": "true"}),
        (f"/api/v1/programs/{mine.program['id']}/members", {}),
    ):
        response = await client.get(path, params=params, headers=intruder_key.headers)
        assert response.status_code == 200, response.text
        rows = response.json()["data"]
        assert not owner_ids & {row["id"] for row in rows}, path
        assert not any(owner.key.workspace_id in str(row) for row in rows)
        for object_id in owner_ids:
            assert object_id not in response.text

    programs = (await client.get("/api/v1/programs", headers=intruder_key.headers)).json()
    assert [p["id"] for p in programs["data"]] == [mine.program["id"]]
    referrals = (await client.get("/api/v1/referrals", headers=intruder_key.headers)).json()
    assert [r["id"] for r in referrals["data"]] == [mine.referral["id"]]
    offset_page = await client.get(
        "/api/v1/programs", params={"offset": 0, "count": 10}, headers=intruder_key.headers
    )
    assert offset_page.json()["meta"]["total"] == 1


async def test_referral_code_of_another_workspace_is_unknown(
    client: httpx.AsyncClient, app: FastAPI, owner: Owned
) -> None:
    intruder = await new_key(app)
    await create_program(client, intruder)
    for code in (owner.member["referral_code"], owner.member["referral_code"].lower()):
        response = await client.post(
            "/api/v1/referrals",
            json={"referral_code": code, "referee": {"email": "stranger@example.com"}},
            headers=intruder.headers,
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["code"] == "unknown_referral_code"
        assert owner.member["id"] not in response.text

    listed = await client.get(
        "/api/v1/referrals", params={"member_id": owner.member["id"]}, headers=owner.key.headers
    )
    assert [r["id"] for r in listed.json()["data"]] == [owner.referral["id"]]


async def test_member_id_of_another_workspace_is_unknown(
    client: httpx.AsyncClient, app: FastAPI, owner: Owned
) -> None:
    intruder = await new_key(app)
    response = await client.post(
        "/api/v1/referrals",
        json={"member_id": owner.member["id"], "referee": {"email": "stranger@example.com"}},
        headers=intruder.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert [e["field"] for e in response.json()["errors"]] == ["member_id"]


# --- test mode vs live mode -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), OBJECT_ROUTES)
async def test_test_mode_key_cannot_touch_live_objects(
    client: httpx.AsyncClient,
    app: FastAPI,
    owner: Owned,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    test_key = await new_key(app, workspace=owner.workspace, mode=Mode.test)
    assert test_key.workspace_id == owner.key.workspace_id
    before = await view(client, owner)

    response = await client.request(method, owner.fill(path), json=body, headers=test_key.headers)

    assert_not_found(response)
    assert await view(client, owner) == before


@pytest.mark.parametrize(("method", "path", "body"), DATA_ROUTES)
async def test_live_key_cannot_touch_test_objects(
    client: httpx.AsyncClient,
    app: FastAPI,
    key: Key,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    workspace = (await client.get("/api/v1/workspace", headers=key.headers)).json()["name"]
    test_owner = await populate(client, await new_key(app, workspace=workspace, mode=Mode.test))
    assert test_owner.program["livemode"] is False
    before = await view(client, test_owner)

    response = await client.request(method, test_owner.fill(path), json=body, headers=key.headers)

    assert_not_found(response)
    assert await view(client, test_owner) == before


async def test_modes_list_only_their_own_rows(
    client: httpx.AsyncClient, app: FastAPI, owner: Owned
) -> None:
    test_key = await new_key(app, workspace=owner.workspace, mode=Mode.test)

    for path in ("/api/v1/programs", "/api/v1/referrals"):
        response = await client.get(path, headers=test_key.headers)
        assert response.status_code == 200
        assert response.json()["data"] == []
    keys = (await client.get("/api/v1/keys", headers=test_key.headers)).json()["data"]
    assert [k["id"] for k in keys] == [test_key.key_id]

    test_side = await populate(client, test_key)
    assert test_side.member["livemode"] is False
    assert test_side.referral["livemode"] is False

    live_programs = (await client.get("/api/v1/programs", headers=owner.key.headers)).json()
    assert [p["id"] for p in live_programs["data"]] == [owner.program["id"]]
    test_programs = (await client.get("/api/v1/programs", headers=test_key.headers)).json()
    assert [p["id"] for p in test_programs["data"]] == [test_side.program["id"]]
    live_refs = (await client.get("/api/v1/referrals", headers=owner.key.headers)).json()
    assert [r["id"] for r in live_refs["data"]] == [owner.referral["id"]]
    live_keys = (await client.get("/api/v1/keys", headers=owner.key.headers)).json()["data"]
    assert test_key.key_id not in {k["id"] for k in live_keys}


async def test_live_referral_code_is_unknown_in_test_mode(
    client: httpx.AsyncClient, app: FastAPI, owner: Owned
) -> None:
    test_key = await new_key(app, workspace=owner.workspace, mode=Mode.test)
    response = await client.post(
        "/api/v1/referrals",
        json={
            "referral_code": owner.member["referral_code"],
            "referee": {"email": "tester@example.com"},
        },
        headers=test_key.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "unknown_referral_code"
