"""Stored idempotent responses are encrypted: a key created or regenerated with an
``Idempotency-Key`` leaves no secret in ``idempotency_keys``, yet a replay still answers it."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from referkit.config import Settings
from referkit.kit.crypto import is_sealed
from tests.conftest import running
from tests.factories import Key


async def stored_body(app: FastAPI, key: Key, idempotency_key: str) -> bytes:
    """The raw ``body`` column, read with SQL."""
    async with app.state.sessions.transaction(write=False) as session:
        body = await session.scalar(
            text("SELECT body FROM idempotency_keys WHERE api_key_id = :api_key AND key = :key"),
            {"api_key": key.key_id, "key": idempotency_key},
        )
    assert body is not None
    return bytes(body)


async def _twice(client: httpx.AsyncClient, path: str, headers: dict[str, str], **kw: Any) -> Any:
    first = await client.post(path, headers=headers, **kw)
    again = await client.post(path, headers=headers, **kw)
    assert first.status_code == again.status_code, (first.text, again.text)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    return first


async def test_a_created_key_secret_is_not_stored_in_clear(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    headers = {**key.headers, "Idempotency-Key": "create-backend-key"}
    first = await _twice(client, "/api/v1/keys", headers, json={"name": "Backend", "scope": "full"})
    secret = first.json()["secret"]
    assert first.status_code == 201
    assert secret.startswith("rk_live_")
    raw = await stored_body(app, key, "create-backend-key")
    assert is_sealed(raw)
    assert secret.encode() not in raw
    assert b"rk_live_" not in raw
    assert b"Backend" not in raw  # every stored response is sealed, not only secrets
    # The replayed secret works.
    me = await client.get("/api/v1/workspace", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200


async def test_a_regenerated_secret_is_not_stored_in_clear(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    created = await client.post(
        "/api/v1/keys", json={"name": "Old", "scope": "full"}, headers=key.headers
    )
    key_id = created.json()["id"]
    headers = {**key.headers, "Idempotency-Key": "regenerate-old"}
    first = await _twice(client, f"/api/v1/keys/{key_id}/regenerate", headers)
    secret = first.json()["secret"]
    raw = await stored_body(app, key, "regenerate-old")
    assert secret.encode() not in raw
    assert b"rk_live_" not in raw


async def test_a_webhook_secret_in_a_stored_response_is_sealed(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    headers = {**key.headers, "Idempotency-Key": "webhook-1"}
    body = {"url": "https://example.com/hooks"}
    first = await _twice(client, "/api/v1/webhooks", headers, json=body)
    assert first.json()["secret"].startswith("whsec_")
    raw = await stored_body(app, key, "webhook-1")
    assert b"whsec_" not in raw


async def test_a_replay_the_server_cannot_decrypt_fails_clearly(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient, key: Key
) -> None:
    headers = {**key.headers, "Idempotency-Key": "before-the-key-was-lost"}
    body = {"name": "Backend", "scope": "full"}
    assert (await client.post("/api/v1/keys", json=body, headers=headers)).status_code == 201
    # The same database, served with another secret key and the old one not kept.
    async with running(settings, secret_key="another-secret-key-" + "z" * 32) as (_, other):
        replay = await other.post("/api/v1/keys", json=body, headers=headers)
        assert replay.status_code == 503
        assert replay.json()["code"] == "service_unavailable"
        assert "rk_live_" not in replay.text
        # Other requests are unaffected.
        fresh = await other.post(
            "/api/v1/programs",
            json={"name": "After", "landing_url": "https://example.com/"},
            headers={**key.headers, "Idempotency-Key": "after-the-key-was-lost"},
        )
        assert fresh.status_code == 201
