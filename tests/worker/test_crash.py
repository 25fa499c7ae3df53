"""Crash safety with real ``referkit worker`` processes.

(a) 20 trials SIGKILL a worker at a random moment, mostly while a batch is in flight, while
200 events are being created; afterwards one worker drains the rest. Every message must be
delivered at least once, and a message received twice must carry the same ``webhook-id`` and the
same signed body. On SQLite and on a throwaway PostgreSQL database.
(b) On PostgreSQL, two workers running side by side never send one attempt twice.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook

from referkit.app import create_app
from referkit.config import Settings
from referkit.db import migrate
from referkit.models import WebhookMessage
from tests.factories import Key, create_program, new_key
from tests.processes import PG_URL, cli_env, throwaway_postgres
from tests.webhook.receiver import Receiver, Reply, receiving

pytestmark = pytest.mark.slow

EVENTS = 200
TRIALS = 20
# The API and the worker processes share the key that encrypts the signing secrets.
SECRET_KEY = "crash-secret-key-" + "x" * 32
_numbers = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def crash_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
        asyncio.run(migrate.upgrade(url))
        yield url
        return
    if not PG_URL:
        pytest.skip("REFERKIT_TEST_DATABASE_URL is not set")
    with throwaway_postgres(PG_URL) as url:
        asyncio.run(migrate.upgrade(url))
        yield url


@asynccontextmanager
async def api(url: str, data_dir: Path) -> AsyncIterator[tuple[Any, httpx.AsyncClient, Key]]:
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        base_url="http://testserver",
        secret_key=SECRET_KEY,
        worker_in_process=False,
        webhook_allow_private_targets=True,
        rate_limit_enabled=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client, await new_key(app)


def worker_env(data_dir: Path, url: str, **extra: str) -> dict[str, str]:
    settings = {
        "database_url": url,
        "secret_key": SECRET_KEY,
        "webhook_allow_private_targets": "true",
        "webhook_timeout_seconds": "0.5",
        "worker_lease_seconds": "1",
        "worker_poll_seconds": "0.05",
        "worker_batch_size": "5",
        "log_level": "warning",
        **extra,
    }
    return cli_env(data_dir, **settings)


async def start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "referkit", "worker", env=env, stdout=out, stderr=out
        )


async def stop(process: asyncio.subprocess.Process, sig: int) -> None:
    if process.returncode is None:
        process.send_signal(sig)
    await asyncio.wait_for(process.wait(), timeout=20)


async def message_states(app: Any) -> dict[str, int]:
    async with app.state.sessions() as session:
        rows = await session.execute(
            select(WebhookMessage.status, func.count()).group_by(WebhookMessage.status)
        )
        return {str(status): int(count) for status, count in rows.all()}


async def produce(client: httpx.AsyncClient, key: Key, program_id: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        n = next(_numbers)
        response = await client.post(
            f"/api/v1/programs/{program_id}/members",
            json={"email": f"crash{n}@example.com"},
            headers=key.headers,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def check_deliveries(receiver: Receiver, secret: str, member_ids: list[str]) -> int:
    """Every member.created arrived, duplicates are byte-identical; the duplicate count."""
    by_id: dict[str, set[bytes]] = defaultdict(set)
    for received in receiver.received:
        by_id[received.webhook_id].add(received.body)
    delivered = set()
    for bodies in by_id.values():
        assert len(bodies) == 1, "one webhook-id carried two different bodies"
    webhook = Webhook(secret)
    for received in receiver.received:
        # The signature is checked at the time it was sent: on a loaded machine the trials can
        # outlast the library's five-minute freshness window, which is the receiver's concern.
        sent_at = datetime.fromtimestamp(int(received.headers["webhook-timestamp"]), UTC)
        expected = webhook.sign(received.webhook_id, sent_at, received.body)
        assert expected in received.headers["webhook-signature"].split(" ")
        delivered.add(json.loads(received.body)["data"]["id"])
    assert delivered == set(member_ids)
    return len(receiver.received) - len(by_id)


async def test_sigkill_trials_lose_nothing(crash_url: str, tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("REFERKIT_TEST_SEED", "20261122")))
    env = worker_env(tmp_path, crash_url)
    log = tmp_path / "workers.log"
    with receiving(default=Reply(delay=0.1)) as receiver:
        async with api(crash_url, tmp_path) as (app, client, key):
            program = await create_program(client, key)
            endpoint = (
                await client.post(
                    "/api/v1/webhooks",
                    json={"url": receiver.url, "events": ["member.created"]},
                    headers=key.headers,
                )
            ).json()
            member_ids: list[str] = []
            kills_in_flight = 0
            for _ in range(TRIALS):
                # The events keep flowing: each trial adds its share while the last worker's
                # leases are still running out.
                member_ids += await produce(client, key, program["id"], EVENTS // TRIALS)
                seen = len(receiver.received)
                process = await start_worker(env, log)
                # Kill at a random moment once the worker is sending: wait for its first request
                # however long a loaded machine takes to start the process (a fixed few seconds
                # made the kills land before delivery under load).
                await receiver.wait_until_more_than(seen, within=60)
                await asyncio.sleep(rng.uniform(0, 0.25))
                kills_in_flight += len(receiver.received) > seen
                await stop(process, signal.SIGKILL)
                assert process.returncode == -signal.SIGKILL

            drain = await start_worker(env, log)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if await message_states(app) == {"succeeded": EVENTS}:
                    break
                await asyncio.sleep(0.2)
            await stop(drain, signal.SIGTERM)
            assert drain.returncode == 0, log.read_text()
            assert await message_states(app) == {"succeeded": EVENTS}
    duplicates = check_deliveries(receiver, endpoint["secret"], member_ids)
    assert kills_in_flight >= TRIALS // 2, "the kills should mostly land mid-delivery"
    print(f"{kills_in_flight} kills mid-delivery, {duplicates} duplicate deliveries")


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("REFERKIT_TEST_DATABASE_URL is not set")
    with throwaway_postgres(PG_URL) as url:
        asyncio.run(migrate.upgrade(url))
        yield url


@pytest.mark.postgres
async def test_two_workers_never_send_one_attempt_twice(pg_url: str, tmp_path: Path) -> None:
    url = pg_url
    if url:
        # A long lease: any second send of a message would be a double claim, not a re-lease.
        env = worker_env(tmp_path, url, worker_lease_seconds="60", webhook_timeout_seconds="10")
        log = tmp_path / "workers.log"
        with receiving(default=Reply(delay=0.02)) as receiver:
            async with api(url, tmp_path) as (app, client, key):
                endpoint = (
                    await client.post(
                        "/api/v1/webhooks", json={"url": receiver.url}, headers=key.headers
                    )
                ).json()
                for _ in range(EVENTS):
                    await client.post(
                        f"/api/v1/webhooks/{endpoint['id']}/test", headers=key.headers
                    )
                workers = [await start_worker(env, log) for _ in range(2)]
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    if await message_states(app) == {"succeeded": EVENTS}:
                        break
                    await asyncio.sleep(0.2)
                for process in workers:
                    await stop(process, signal.SIGTERM)
                    assert process.returncode == 0, log.read_text()
                assert await message_states(app) == {"succeeded": EVENTS}
        ids = receiver.ids()
        assert len(ids) == len(set(ids)) == EVENTS
