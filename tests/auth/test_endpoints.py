"""API keys over HTTP: issuing, Bearer and Basic authentication, regenerating, revoking."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Mode
from tests.factories import Key, new_key

PROBLEM = "application/problem+json"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def create_key(client: httpx.AsyncClient, key: Key, **fields: Any) -> dict[str, Any]:
    body = {"name": "Backend", "scope": "full", **fields}
    response = await client.post("/api/v1/keys", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def list_keys(client: httpx.AsyncClient, key: Key, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/keys", params=params, headers=key.headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def workspace_id_for(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.get("/api/v1/workspace", headers=headers)
    assert response.status_code == 200, response.text
    workspace_id: str = response.json()["id"]
    return workspace_id


async def workspace_name_of(client: httpx.AsyncClient, key: Key) -> str:
    response = await client.get("/api/v1/workspace", headers=key.headers)
    assert response.status_code == 200, response.text
    name: str = response.json()["name"]
    return name


def assert_unauthorized(response: httpx.Response, codes: set[str]) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    challenge = response.headers["www-authenticate"]
    assert "Bearer" in challenge
    assert "Basic" in challenge
    body = response.json()
    assert body["code"] in codes
    assert body["status"] == 401
    assert body["type"] == f"/problems/{body['code']}"


# --- creating ---------------------------------------------------------------------------------


async def test_create_answers_the_secret_once(client: httpx.AsyncClient, key: Key) -> None:
    created = await create_key(client, key, name="Reporting", scope="read_only")

    assert created["id"].startswith("key_")
    assert created["name"] == "Reporting"
    assert created["scope"] == "read_only"
    assert created["mode"] == "live"
    assert created["secret"].startswith("rk_live_")
    assert created["public_key"].startswith("pk_live_")
    assert created["secret_hint"].startswith(created["secret"][:11])
    assert created["secret_hint"].endswith(created["secret"][-4:])
    assert created["secret_hint"] != created["secret"]
    assert created["last_used_at"] is None
    assert created["revoked_at"] is None

    listed = await client.get("/api/v1/keys", headers=key.headers)
    assert listed.status_code == 200
    assert created["secret"] not in listed.text
    rows = {row["id"]: row for row in listed.json()["data"]}
    assert set(rows) == {key.key_id, created["id"]}
    for row in rows.values():
        assert "secret" not in row
        assert "secret_hash" not in row
    assert rows[created["id"]]["secret_hint"] == created["secret_hint"]
    assert rows[created["id"]]["public_key"] == created["public_key"]


async def test_create_defaults_to_the_callers_mode(client: httpx.AsyncClient, app: FastAPI) -> None:
    test_key = await new_key(app, mode=Mode.test)
    created = await create_key(client, test_key, scope="read_only")
    assert created["mode"] == "test"
    assert created["secret"].startswith("rk_test_")
    assert created["public_key"].startswith("pk_test_")


async def test_create_keeps_a_rate_limit(client: httpx.AsyncClient, key: Key) -> None:
    created = await create_key(client, key, rate_limit_per_minute=42)
    assert created["rate_limit_per_minute"] == 42
    (row,) = [k for k in await list_keys(client, key) if k["id"] == created["id"]]
    assert row["rate_limit_per_minute"] == 42


@pytest.mark.parametrize(
    "body",
    [
        {"scope": "full"},
        {"name": "", "scope": "full"},
        {"name": "x", "scope": "admin"},
        {"name": "x", "scope": "full", "mode": "staging"},
        {"name": "x", "scope": "full", "rate_limit_per_minute": 0},
        {"name": "x", "scope": "full", "secret": "rk_live_chosen_by_me"},
    ],
    ids=["no-name", "empty-name", "bad-scope", "bad-mode", "zero-rate-limit", "chosen-secret"],
)
async def test_create_rejects_invalid_bodies(
    client: httpx.AsyncClient, key: Key, body: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/keys", json=body, headers=key.headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert [k["id"] for k in await list_keys(client, key)] == [key.key_id]


async def test_test_mode_key_cannot_create_live_keys(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    test_key = await new_key(app, mode=Mode.test)
    response = await client.post(
        "/api/v1/keys",
        json={"name": "escalate", "scope": "full", "mode": "live"},
        headers=test_key.headers,
    )
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "insufficient_scope"

    # Nothing was created, in either mode.
    live_key = await new_key(app, workspace=await workspace_name_of(client, test_key))
    assert [k["id"] for k in await list_keys(client, live_key)] == [live_key.key_id]
    assert [k["id"] for k in await list_keys(client, test_key)] == [test_key.key_id]


async def test_live_key_may_create_a_test_key(client: httpx.AsyncClient, key: Key) -> None:
    created = await create_key(client, key, mode="test")
    assert created["secret"].startswith("rk_test_")
    # The live list does not show it; the test key sees itself.
    assert created["id"] not in {k["id"] for k in await list_keys(client, key)}
    response = await client.get("/api/v1/keys", headers=bearer(created["secret"]))
    assert [k["id"] for k in response.json()["data"]] == [created["id"]]


async def test_a_live_key_manages_the_test_keys_it_can_create(
    client: httpx.AsyncClient, key: Key
) -> None:
    created = await create_key(client, key, mode="test")
    path = f"/api/v1/keys/{created['id']}"
    # List (by mode) and read.
    listed = await client.get("/api/v1/keys", params={"mode": "test"}, headers=key.headers)
    assert listed.status_code == 200, listed.text
    assert [k["id"] for k in listed.json()["data"]] == [created["id"]]
    read = await client.get(path, headers=key.headers)
    assert read.status_code == 200, read.text
    assert (read.json()["mode"], read.json()["secret_hint"]) == ("test", created["secret_hint"])
    assert "secret" not in read.json()
    # Change, regenerate (still a test secret; the old one fails), revoke.
    renamed = await client.patch(path, json={"name": "ci"}, headers=key.headers)
    assert renamed.status_code == 200, renamed.text
    regenerated = await client.post(f"{path}/regenerate", headers=key.headers)
    assert regenerated.status_code == 200, regenerated.text
    secret = regenerated.json()["secret"]
    assert secret.startswith("rk_test_")
    assert (await client.get("/api/v1/keys", headers=bearer(created["secret"]))).status_code == 401
    assert (await client.get("/api/v1/keys", headers=bearer(secret))).status_code == 200
    revoked = await client.delete(path, headers=key.headers)
    assert revoked.status_code == 204, revoked.text
    assert (await client.get("/api/v1/keys", headers=bearer(secret))).status_code == 401
    assert (await client.get(path, headers=key.headers)).status_code == 404


async def test_a_test_key_cannot_reach_live_keys(client: httpx.AsyncClient, key: Key) -> None:
    created = await create_key(client, key, mode="test")
    test_headers = bearer(created["secret"])
    listed = await client.get("/api/v1/keys", params={"mode": "live"}, headers=test_headers)
    assert listed.status_code == 403
    assert listed.json()["code"] == "insufficient_scope"
    for method, suffix in [("GET", ""), ("PATCH", ""), ("POST", "/regenerate"), ("DELETE", "")]:
        answer = await client.request(
            method,
            f"/api/v1/keys/{key.key_id}{suffix}",
            headers=test_headers,
            json={"name": "x"} if method == "PATCH" else None,
        )
        assert answer.status_code == 404, (method, answer.text)
    # The live key still works.
    assert (await client.get(f"/api/v1/keys/{key.key_id}", headers=key.headers)).status_code == 200


# --- authenticating ---------------------------------------------------------------------------


async def test_bearer_auth(client: httpx.AsyncClient, key: Key) -> None:
    created = await create_key(client, key)
    assert await workspace_id_for(client, bearer(created["secret"])) == key.workspace_id


async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient, key: Key) -> None:
    headers = {"Authorization": f"bearer {key.secret}"}
    assert await workspace_id_for(client, headers) == key.workspace_id


async def test_basic_auth_with_public_key_and_secret(client: httpx.AsyncClient, key: Key) -> None:
    headers = basic(key.public_key, key.secret)
    assert await workspace_id_for(client, headers) == key.workspace_id


async def test_basic_auth_with_secret_as_username(client: httpx.AsyncClient, key: Key) -> None:
    headers = basic(key.secret, "")
    assert await workspace_id_for(client, headers) == key.workspace_id


async def test_httpx_basic_auth_works(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.get("/api/v1/workspace", auth=(key.public_key, key.secret))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == key.workspace_id


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


BAD_CREDENTIALS: list[tuple[str, Callable[[Key, Key], dict[str, Any]], set[str]]] = [
    ("missing", lambda k, other: {}, {"authentication_required"}),
    ("empty", lambda k, other: {"Authorization": ""}, {"authentication_required"}),
    ("bearer-wrong-secret", lambda k, other: bearer("rk_live_" + "a" * 43), {"invalid_api_key"}),
    ("bearer-altered-secret", lambda k, other: bearer(k.secret + "x"), {"invalid_api_key"}),
    ("bearer-no-prefix", lambda k, other: bearer(k.secret[8:]), {"invalid_api_key"}),
    ("bearer-public-key", lambda k, other: bearer(k.public_key), {"invalid_api_key"}),
    ("bearer-empty", lambda k, other: {"Authorization": "Bearer"}, {"invalid_api_key"}),
    ("bearer-huge", lambda k, other: bearer("rk_live_" + "a" * 5000), {"invalid_api_key"}),
    (
        "basic-wrong-secret",
        lambda k, other: basic(k.public_key, "rk_live_nope"),
        {"invalid_api_key"},
    ),
    ("basic-empty-password", lambda k, other: basic(k.public_key, ""), {"invalid_api_key"}),
    (
        "basic-unknown-public-key",
        lambda k, other: basic("pk_live_doesnotexist", k.secret),
        {"invalid_api_key"},
    ),
    (
        "basic-another-keys-secret",
        lambda k, other: basic(k.public_key, other.secret),
        {"invalid_api_key"},
    ),
    (
        "basic-not-base64",
        lambda k, other: {"Authorization": "Basic !!!not-base64!!!"},
        {"invalid_api_key"},
    ),
    (
        "basic-not-utf8",
        lambda k, other: {"Authorization": "Basic " + _b64(b"\xff\xfe:\xfd")},
        {"invalid_api_key"},
    ),
    (
        "basic-no-colon",
        lambda k, other: {"Authorization": "Basic " + _b64(b"pk_live_x")},
        {"invalid_api_key"},
    ),
    ("basic-empty", lambda k, other: {"Authorization": "Basic "}, {"invalid_api_key"}),
    (
        "bearer-non-ascii",
        lambda k, other: {"Authorization": "Bearer rk_live_\u00e9\u00ff".encode()},
        {"invalid_api_key"},
    ),
    (
        "basic-non-ascii",
        lambda k, other: {"Authorization": "Basic \u00e9\u00e9\u00e9\u00e9".encode()},
        {"invalid_api_key"},
    ),
    (
        "unsupported-scheme",
        lambda k, other: {"Authorization": f"Token {k.secret}"},
        {"authentication_required"},
    ),
    (
        "secret-without-scheme",
        lambda k, other: {"Authorization": k.secret},
        {"authentication_required"},
    ),
    (
        "digest-scheme",
        lambda k, other: {"Authorization": 'Digest username="x"'},
        {"authentication_required"},
    ),
]


@pytest.mark.parametrize(
    ("make_headers", "codes"),
    [(make, codes) for _, make, codes in BAD_CREDENTIALS],
    ids=[name for name, _, _ in BAD_CREDENTIALS],
)
async def test_bad_credentials_answer_401(
    client: httpx.AsyncClient,
    app: FastAPI,
    key: Key,
    make_headers: Callable[[Key, Key], dict[str, Any]],
    codes: set[str],
) -> None:
    other = await new_key(app)
    response = await client.get("/api/v1/workspace", headers=make_headers(key, other))
    assert_unauthorized(response, codes)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/keys"),
        ("POST", "/api/v1/keys"),
        ("GET", "/api/v1/programs"),
        ("POST", "/api/v1/referrals"),
        ("DELETE", "/api/v1/members/mem_01jd9x4k6b8v2q3r5s7t9w1y3z"),
    ],
)
async def test_every_api_route_needs_credentials(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert_unauthorized(response, {"authentication_required"})


# --- regenerating -----------------------------------------------------------------------------


async def test_regenerate_replaces_the_secret_at_once(client: httpx.AsyncClient, key: Key) -> None:
    created = await create_key(client, key)
    old = created["secret"]

    response = await client.post(f"/api/v1/keys/{created['id']}/regenerate", headers=key.headers)
    assert response.status_code == 200, response.text
    renewed = response.json()
    assert renewed["id"] == created["id"]
    assert renewed["public_key"] == created["public_key"]
    assert renewed["secret"].startswith("rk_live_")
    assert renewed["secret"] != old
    assert renewed["secret_hint"] != created["secret_hint"]
    assert renewed["secret_hint"].endswith(renewed["secret"][-4:])

    assert await workspace_id_for(client, bearer(renewed["secret"])) == key.workspace_id
    assert (
        await workspace_id_for(client, basic(created["public_key"], renewed["secret"]))
        == key.workspace_id
    )
    for headers in (bearer(old), basic(created["public_key"], old), basic(old, "")):
        response = await client.get("/api/v1/workspace", headers=headers)
        assert_unauthorized(response, {"invalid_api_key"})

    (row,) = [k for k in await list_keys(client, key) if k["id"] == created["id"]]
    assert row["secret_hint"] == renewed["secret_hint"]
    assert renewed["secret"] not in str(row)


async def test_regenerating_the_calling_key(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.post(f"/api/v1/keys/{key.key_id}/regenerate", headers=key.headers)
    assert response.status_code == 200, response.text
    new_secret = response.json()["secret"]
    assert_unauthorized(
        await client.get("/api/v1/workspace", headers=key.headers), {"invalid_api_key"}
    )
    assert await workspace_id_for(client, bearer(new_secret)) == key.workspace_id


async def test_regenerate_keeps_a_test_key_in_test_mode(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    test_key = await new_key(app, mode=Mode.test)
    response = await client.post(
        f"/api/v1/keys/{test_key.key_id}/regenerate", headers=test_key.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["secret"].startswith("rk_test_")
    assert response.json()["mode"] == "test"


# --- revoking ---------------------------------------------------------------------------------


async def test_revoke_stops_the_key_at_once(client: httpx.AsyncClient, key: Key) -> None:
    created = await create_key(client, key)
    assert await workspace_id_for(client, bearer(created["secret"])) == key.workspace_id

    response = await client.delete(f"/api/v1/keys/{created['id']}", headers=key.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""

    for headers in (
        bearer(created["secret"]),
        basic(created["public_key"], created["secret"]),
        basic(created["secret"], ""),
    ):
        assert_unauthorized(
            await client.get("/api/v1/workspace", headers=headers), {"invalid_api_key"}
        )

    assert created["id"] not in {k["id"] for k in await list_keys(client, key)}
    with_revoked = {k["id"]: k for k in await list_keys(client, key, include_revoked="true")}
    assert set(with_revoked) == {key.key_id, created["id"]}
    assert with_revoked[created["id"]]["revoked_at"] is not None
    assert with_revoked[key.key_id]["revoked_at"] is None


async def test_a_revoked_key_cannot_be_regenerated_or_revoked_again(
    client: httpx.AsyncClient, key: Key
) -> None:
    created = await create_key(client, key)
    assert (
        await client.delete(f"/api/v1/keys/{created['id']}", headers=key.headers)
    ).status_code == 204

    again = await client.delete(f"/api/v1/keys/{created['id']}", headers=key.headers)
    assert again.status_code == 404
    assert again.json()["code"] == "not_found"
    regenerated = await client.post(f"/api/v1/keys/{created['id']}/regenerate", headers=key.headers)
    assert regenerated.status_code == 404
    assert regenerated.json()["code"] == "not_found"
    assert_unauthorized(
        await client.get("/api/v1/workspace", headers=bearer(created["secret"])),
        {"invalid_api_key"},
    )


async def test_revoking_the_calling_key(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.delete(f"/api/v1/keys/{key.key_id}", headers=key.headers)
    assert response.status_code == 204
    assert_unauthorized(await client.get("/api/v1/keys", headers=key.headers), {"invalid_api_key"})


@pytest.mark.parametrize(
    "key_id",
    ["key_01jd9x4k6b8v2q3r5s7t9w1y3z", "nonsense", "prog_01jd9x4k6b8v2q3r5s7t9w1y3z"],
)
async def test_unknown_key_ids_answer_404(client: httpx.AsyncClient, key: Key, key_id: str) -> None:
    for response in (
        await client.post(f"/api/v1/keys/{key_id}/regenerate", headers=key.headers),
        await client.delete(f"/api/v1/keys/{key_id}", headers=key.headers),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["code"] == "not_found"
    assert await workspace_id_for(client, key.headers) == key.workspace_id


# --- bookkeeping ------------------------------------------------------------------------------


async def test_last_used_at_is_set_after_use(client: httpx.AsyncClient, key: Key) -> None:
    created = await create_key(client, key)
    before = {k["id"]: k for k in await list_keys(client, key)}
    assert before[created["id"]]["last_used_at"] is None

    assert await workspace_id_for(client, bearer(created["secret"])) == key.workspace_id

    after = {k["id"]: k for k in await list_keys(client, key)}
    used_at = datetime.fromisoformat(after[created["id"]]["last_used_at"])
    assert used_at.tzinfo is not None
    now = datetime.now(UTC)
    assert now - timedelta(minutes=1) <= used_at <= now + timedelta(seconds=5)
    # The caller's own key was used too.
    assert after[key.key_id]["last_used_at"] is not None


async def test_keys_list_paginates(client: httpx.AsyncClient, key: Key) -> None:
    made = [(await create_key(client, key, name=f"k{i}"))["id"] for i in range(4)]
    expected = [*reversed(made), key.key_id]  # newest first

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(10):
        response = await client.get("/api/v1/keys", params=params, headers=key.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= 2
        seen += [row["id"] for row in page["data"]]
        if not page["meta"]["hasMore"]:
            assert page["meta"]["cursor"] is None
            break
        params = {"limit": 2, "cursor": page["meta"]["cursor"]}
    assert seen == expected

    response = await client.get(
        "/api/v1/keys", params={"offset": 1, "count": 3}, headers=key.headers
    )
    meta = response.json()["meta"]
    assert [row["id"] for row in response.json()["data"]] == expected[1:4]
    assert meta["total"] == 5
    assert meta["hasMore"] is True


async def test_first_use_during_concurrent_writes(
    client: httpx.AsyncClient, app: FastAPI, key: Key
) -> None:
    """Recording a key's use on a read must not fail while other requests write.

    On SQLite a read transaction cannot be upgraded to a write once another writer got in
    ("database is locked"), so the use must be recorded without such an upgrade.
    """
    readers = [await new_key(app) for _ in range(30)]

    async def read(reader: Key) -> int:
        return (await client.get("/api/v1/programs", headers=reader.headers)).status_code

    async def write(i: int) -> int:
        response = await client.post(
            "/api/v1/programs",
            json={"name": f"Concurrent {i}", "landing_url": "https://example.com"},
            headers=key.headers,
        )
        return response.status_code

    statuses = await asyncio.gather(*(read(r) for r in readers), *(write(i) for i in range(30)))
    assert statuses == [200] * 30 + [201] * 30

    for reader in readers:
        (row,) = await list_keys(client, reader)
        assert row["last_used_at"] is not None


async def test_a_read_shows_its_own_use(client: httpx.AsyncClient, key: Key) -> None:
    (row,) = await list_keys(client, key)
    assert row["id"] == key.key_id
    assert row["last_used_at"] is not None
