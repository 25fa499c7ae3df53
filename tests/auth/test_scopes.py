"""The scope matrix: ``full`` does everything, ``read_only`` only reads, ``analytics`` only reads
analytics (there are no analytics endpoints yet, so every ordinary call is refused).

Each case runs against real objects in the key's own workspace with a valid body, so a refusal
is the scope check and not a 404 or a validation error; refused calls must leave no trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Scope
from tests.factories import Key, create_member, create_program, create_referral, new_key

PROBLEM = "application/problem+json"

READS: list[tuple[str, str]] = [
    ("GET", "/api/v1/workspace"),
    ("GET", "/api/v1/keys"),
    ("GET", "/api/v1/programs"),
    ("GET", "/api/v1/programs/{program_id}"),
    ("GET", "/api/v1/programs/{program_id}/members"),
    ("GET", "/api/v1/members/{member_id}"),
    ("GET", "/api/v1/referrals"),
    ("GET", "/api/v1/referrals/{referral_id}"),
]

WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/v1/keys", {"name": "escalated", "scope": "full"}),
    ("POST", "/api/v1/keys/{key_id}/regenerate", None),
    ("DELETE", "/api/v1/keys/{key_id}", None),
    ("POST", "/api/v1/programs", {"name": "New", "landing_url": "https://example.com/a"}),
    ("PATCH", "/api/v1/programs/{program_id}", {"name": "Renamed"}),
    ("DELETE", "/api/v1/programs/{program_id}", None),
    ("POST", "/api/v1/programs/{program_id}/members", {"email": "newcomer@example.com"}),
    ("PATCH", "/api/v1/members/{member_id}", {"name": "Renamed"}),
    ("DELETE", "/api/v1/members/{member_id}", None),
    (
        "POST",
        "/api/v1/referrals",
        {"referral_code": "{referral_code}", "referee": {"email": "newfriend@example.com"}},
    ),
    ("PATCH", "/api/v1/referrals/{referral_id}", {"status": "qualified"}),
]


@dataclass(frozen=True)
class World:
    """Objects in one workspace, made with a full key, plus the workspace's name."""

    owner: Key
    workspace: str
    ids: dict[str, str]

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            return value.format(**self.ids)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value


@pytest.fixture
async def world(client: httpx.AsyncClient, app: FastAPI, key: Key) -> World:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    referral = await create_referral(client, key, member["referral_code"])
    spare = await client.post(
        "/api/v1/keys", json={"name": "spare", "scope": "full"}, headers=key.headers
    )
    assert spare.status_code == 201, spare.text
    response = await client.get("/api/v1/workspace", headers=key.headers)
    return World(
        owner=key,
        workspace=response.json()["name"],
        ids={
            "program_id": program["id"],
            "member_id": member["id"],
            "referral_id": referral["id"],
            "referral_code": member["referral_code"],
            "key_id": spare.json()["id"],
        },
    )


async def snapshot(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """Everything the owner can read, minus last_used_at (using a key legitimately moves it)."""
    out: dict[str, Any] = {}
    for method, path in READS:
        response = await client.request(method, world.fill(path), headers=world.owner.headers)
        assert response.status_code == 200, response.text
        out[path] = response.json()
    for row in out["/api/v1/keys"]["data"]:
        row.pop("last_used_at")
    out["/api/v1/keys"] = sorted(out["/api/v1/keys"]["data"], key=lambda r: r["id"])
    return out


def assert_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "insufficient_scope"
    assert body["status"] == 403
    assert body["type"] == "/problems/insufficient_scope"
    assert body["detail"]


@pytest.mark.parametrize("scope", [Scope.full, Scope.read_only])
@pytest.mark.parametrize(("method", "path"), READS)
async def test_reads_allowed(
    client: httpx.AsyncClient, app: FastAPI, world: World, scope: Scope, method: str, path: str
) -> None:
    caller = await new_key(app, workspace=world.workspace, scope=scope)
    response = await client.request(method, world.fill(path), headers=caller.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    if "data" in body:
        assert body["data"], f"{path} listed nothing"
    elif path != "/api/v1/workspace":
        assert body["id"] in world.ids.values()


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_full_scope_may_write(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    caller = await new_key(app, workspace=world.workspace, scope=Scope.full)
    response = await client.request(
        method, world.fill(path), json=world.fill(body), headers=caller.headers
    )
    assert response.status_code in (200, 201, 204), response.text


@pytest.mark.parametrize("scope", [Scope.read_only, Scope.analytics])
@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_writes_forbidden(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    scope: Scope,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    caller = await new_key(app, workspace=world.workspace, scope=scope)
    before = await snapshot(client, world)
    response = await client.request(
        method, world.fill(path), json=world.fill(body), headers=caller.headers
    )
    assert_forbidden(response)
    assert await snapshot(client, world) == before


@pytest.mark.parametrize(("method", "path"), READS)
async def test_analytics_scope_cannot_read_ordinary_resources(
    client: httpx.AsyncClient, app: FastAPI, world: World, method: str, path: str
) -> None:
    caller = await new_key(app, workspace=world.workspace, scope=Scope.analytics)
    response = await client.request(method, world.fill(path), headers=caller.headers)
    assert_forbidden(response)
    assert str(world.ids["program_id"]) not in response.text


@pytest.mark.parametrize("scope", [Scope.read_only, Scope.analytics])
async def test_scope_is_checked_before_the_object_is_looked_up(
    client: httpx.AsyncClient, app: FastAPI, world: World, scope: Scope
) -> None:
    """A limited key learns nothing about which ids exist from a write attempt."""
    caller = await new_key(app, workspace=world.workspace, scope=scope)
    for path in (
        f"/api/v1/programs/{world.ids['program_id']}",
        "/api/v1/programs/prog_01jd9x4k6b8v2q3r5s7t9w1y3z",
    ):
        assert_forbidden(await client.delete(path, headers=caller.headers))


async def test_read_only_key_created_over_http_is_read_only(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        "/api/v1/keys", json={"name": "ro", "scope": "read_only"}, headers=world.owner.headers
    )
    assert response.status_code == 201
    headers = {"Authorization": f"Bearer {response.json()['secret']}"}
    assert (await client.get("/api/v1/programs", headers=headers)).status_code == 200
    assert_forbidden(
        await client.post(
            "/api/v1/programs",
            json={"name": "x", "landing_url": "https://example.com"},
            headers=headers,
        )
    )
