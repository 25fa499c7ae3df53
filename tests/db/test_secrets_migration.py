"""Migration 0010 encrypts the webhook signing secrets and stored responses that earlier
versions kept in clear, with the keys it is handed; downgrading decrypts them again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from referkit.db import migrate
from referkit.kit.crypto import KeyRing, is_encrypted, is_sealed
from tests.db.test_migrations import fresh_url  # noqa: F401  (fixture)

KEYRING = KeyRing(b"migration-secret-key-" + b"m" * 32)
SECRET = "whsec_" + "S" * 44
OLD_SECRET = "whsec_" + "O" * 44
RESPONSE = b'{"id": "key_1", "secret": "rk_live_plaintext"}'
NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def _rows(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql), params)
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


async def _seed(url: str) -> None:
    await _rows(
        url, "INSERT INTO workspaces (id, name, created_at) VALUES ('ws_1', 'W', :t)", t=NOW
    )
    await _rows(
        url,
        "INSERT INTO api_keys (id, workspace_id, name, scope, livemode, public_key, secret_hash, "
        "secret_hint, created_at) VALUES ('key_1', 'ws_1', 'k', 'full', true, 'pk_live_1', "
        "'h', 'hint', :t)",
        t=NOW,
    )
    await _rows(
        url,
        "INSERT INTO webhook_endpoints (id, workspace_id, livemode, url, event_types, enabled, "
        "source, secret, previous_secret, consecutive_failures, created_at, updated_at) VALUES "
        "('wh_1', 'ws_1', true, 'https://example.com/h', '[\"*\"]', true, 'api', :s, :o, 0, "
        ":t, :t)",
        s=SECRET,
        o=OLD_SECRET,
        t=NOW,
    )
    await _rows(
        url,
        "INSERT INTO idempotency_keys (id, api_key_id, key, fingerprint, status_code, "
        "content_type, body, created_at, completed_at) VALUES ('idem_1', 'key_1', 'k', 'f', 201, "
        "'application/json', :b, :t, :t)",
        b=RESPONSE,
        t=NOW,
    )


async def test_plaintext_secrets_are_encrypted_on_upgrade(fresh_url: str) -> None:  # noqa: F811
    await migrate.upgrade(fresh_url, "0009")
    await _seed(fresh_url)
    await migrate.upgrade(fresh_url, "head", keyring=KEYRING)

    ((secret, previous),) = await _rows(
        fresh_url, "SELECT secret, previous_secret FROM webhook_endpoints WHERE id = 'wh_1'"
    )
    ((body,),) = await _rows(fresh_url, "SELECT body FROM idempotency_keys WHERE id = 'idem_1'")
    assert isinstance(secret, str)
    assert isinstance(previous, str)
    assert is_encrypted(secret)
    assert is_encrypted(previous)
    assert "whsec_" not in secret + previous
    assert is_sealed(bytes(body))
    assert b"rk_live_" not in bytes(body)
    webhooks = KEYRING.box("webhook-signing-secret")
    assert webhooks.decrypt(secret, context="wh_1") == SECRET
    assert webhooks.decrypt(previous, context="wh_1") == OLD_SECRET
    responses = KEYRING.box("idempotent-response")
    assert responses.unseal(bytes(body), context="idem_1") == RESPONSE

    await migrate.downgrade(fresh_url, "0009", keyring=KEYRING)
    assert await _rows(
        fresh_url, "SELECT secret, previous_secret FROM webhook_endpoints WHERE id = 'wh_1'"
    ) == [(SECRET, OLD_SECRET)]
    ((body,),) = await _rows(fresh_url, "SELECT body FROM idempotency_keys WHERE id = 'idem_1'")
    assert bytes(body) == RESPONSE
