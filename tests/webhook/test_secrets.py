"""Signing secrets at rest: the endpoint row holds only ciphertext (read with SQL), deliveries
still sign with the secret the caller was shown, a rotation of the server's secret key
re-encrypts everything, and a missing key fails clearly instead of sending unsigned messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from standardwebhooks import Webhook

from referkit.cli.secrets import reseal
from referkit.config import Settings
from referkit.db import migrate
from referkit.kit.crypto import DecryptionError, is_encrypted
from referkit.worker.runner import Worker
from tests.conftest import TEST_BASE_URL, running
from tests.db.test_migrations import fresh_url  # noqa: F401  (fixture)
from tests.factories import Key, new_key
from tests.webhook.conftest import Clock, messages, subscribe
from tests.webhook.receiver import receiving

KEY_A = "first-secret-key-" + "a" * 32
KEY_B = "second-secret-key-" + "b" * 32


async def raw_secrets(app: FastAPI, endpoint_id: str) -> tuple[str, str | None]:
    async with app.state.sessions.transaction(write=False) as session:
        row = (
            await session.execute(
                text("SELECT secret, previous_secret FROM webhook_endpoints WHERE id = :id"),
                {"id": endpoint_id},
            )
        ).one()
    return row[0], row[1]


async def test_signing_secrets_are_stored_encrypted(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    endpoint = await subscribe(client, key, "https://example.com/hooks")
    secret, previous = await raw_secrets(app, endpoint["id"])
    assert is_encrypted(secret)
    assert previous is None
    assert endpoint["secret"] not in secret
    assert "whsec_" not in secret
    rotated = await client.post(
        f"/api/v1/webhooks/{endpoint['id']}/rotate-secret", headers=key.headers
    )
    new_secret = rotated.json()["secret"]
    secret, previous = await raw_secrets(app, endpoint["id"])
    assert previous is not None
    for stored in (secret, previous):
        assert is_encrypted(stored)
        assert "whsec_" not in stored
    hook = await client.post(
        "/api/v1/hooks",
        json={"target_url": "https://example.com/zap", "event": "member.created"},
        headers=key.headers,
    )
    assert is_encrypted((await raw_secrets(app, hook.json()["id"]))[0])
    assert new_secret != endpoint["secret"]


def _settings(url: str, data_dir: Path, **fields: Any) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        base_url=TEST_BASE_URL,
        worker_in_process=False,
        webhook_allow_private_targets=True,
        **fields,
    )


async def _deliver(app: FastAPI, settings: Settings) -> int:
    worker = Worker(app.state.sessions, settings, clock=Clock())
    try:
        return await worker.run_until_idle()
    finally:
        await worker.aclose()


async def test_rotating_the_secret_key_keeps_every_secret_readable(
    fresh_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    # A database of its own: the rotation rewrites every stored secret in it.
    await migrate.upgrade(fresh_url)
    first = _settings(fresh_url, tmp_path, secret_key=KEY_A)
    lost = _settings(fresh_url, tmp_path, secret_key=KEY_B)
    rotating = _settings(fresh_url, tmp_path, secret_key=KEY_B, secret_key_previous=KEY_A)
    replayed = {"Idempotency-Key": "new-key-1"}
    with receiving() as receiver:
        async with running(first) as (app, client):
            key = await new_key(app)
            endpoint = await subscribe(client, key, receiver.url)
            issued = await client.post(
                "/api/v1/keys", json={"name": "B", "scope": "full"}, headers=key.headers | replayed
            )
            await client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=key.headers)
            before = await raw_secrets(app, endpoint["id"])

        # The key changed and the old one was not kept: nothing is sent, the log says why.
        async with running(lost) as (app, client):
            assert await _deliver(app, lost) == 1
            (message,) = await messages(client, key, endpoint["id"])
            error = message["attempts"][0]["error"]
            assert "signing secret unreadable" in error
            assert "REFERKIT_SECRET_KEY_PREVIOUS" in error
            assert receiver.received == []
        with pytest.raises(DecryptionError):
            await reseal(lost)
        async with running(first) as (app, _):
            assert await raw_secrets(app, endpoint["id"]) == before  # nothing was changed

        counts = await reseal(rotating)
        assert counts == {"webhook_endpoints": 1, "idempotent_responses": 1, "integrations": 0}

        # The old key can go: the new one alone reads every secret.
        async with running(lost) as (app, client):
            after = await raw_secrets(app, endpoint["id"])
            assert is_encrypted(after[0])
            assert after != before
            retry = await client.post(
                f"/api/v1/webhooks/messages/{message['id']}/retry", headers=key.headers
            )
            assert retry.status_code == 202
            assert await _deliver(app, lost) == 1
            again = await client.post(
                "/api/v1/keys", json={"name": "B", "scope": "full"}, headers=key.headers | replayed
            )
        (received,) = receiver.received
        payload = Webhook(endpoint["secret"]).verify(received.body, received.headers)
        assert payload["type"] == "webhook.test"
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["secret"] == issued.json()["secret"]
