"""``referkit secrets rotate``, run as a real process: with the old key missing it changes
nothing and says which setting to add; with it, every stored secret moves to the new key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import text

from referkit.app import create_app
from referkit.config import Settings
from referkit.webhook.service import ENCRYPTION_PURPOSE
from tests.factories import new_key
from tests.processes import cli_env, run_cli

KEY_A = "first-secret-key-" + "a" * 32
KEY_B = "second-secret-key-" + "b" * 32


async def _stored_secret(settings: Settings, create: bool) -> tuple[str, str]:
    """(endpoint id, stored secret), creating the endpoint first when asked."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        if create:
            key = await new_key(app)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.post(
                    "/api/v1/webhooks", json={"url": "https://example.com/h"}, headers=key.headers
                )
                assert response.status_code == 201, response.text
        async with app.state.sessions.transaction(write=False) as session:
            row = (await session.execute(text("SELECT id, secret FROM webhook_endpoints"))).one()
    return row[0], row[1]


def test_rotate_reencrypts_under_the_new_key(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'referkit.db'}"
    first = Settings(database_url=url, data_dir=tmp_path, secret_key=KEY_A, worker_in_process=False)
    run_cli("db", "upgrade", env=cli_env(tmp_path, database_url=url, secret_key=KEY_A))
    endpoint_id, before = asyncio.run(_stored_secret(first, create=True))

    missing = run_cli(
        "secrets", "rotate", env=cli_env(tmp_path, database_url=url, secret_key=KEY_B)
    )
    assert missing.returncode == 1
    assert "Nothing was changed" in missing.stderr
    assert "REFERKIT_SECRET_KEY_PREVIOUS" in missing.stderr
    assert asyncio.run(_stored_secret(first, create=False)) == (endpoint_id, before)

    rotated = run_cli(
        "secrets",
        "rotate",
        env=cli_env(tmp_path, database_url=url, secret_key=KEY_B, secret_key_previous=KEY_A),
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "1 webhook endpoint(s)" in rotated.stderr
    second = first.model_copy(update={"secret_key": KEY_B})
    _, after = asyncio.run(_stored_secret(second, create=False))
    assert after != before
    old_box = first.keyring.box(ENCRYPTION_PURPOSE)
    new_box = second.keyring.box(ENCRYPTION_PURPOSE)
    assert new_box.decrypt(after, context=endpoint_id) == old_box.decrypt(
        before, context=endpoint_id
    )
