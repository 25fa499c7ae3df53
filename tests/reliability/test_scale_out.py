"""Scale-out, with real processes: two ``referkit serve`` and two ``referkit worker`` processes
on one PostgreSQL, reached through PgBouncer in transaction pooling mode, and one Redis.

- 1,000 webhook messages, caused through both API processes, are each delivered exactly once to
  a receiver answering 2xx, although two workers claim from the same table (SKIP LOCKED leases).
- A key limited to 60 requests a minute gets 60, in total, from both API processes.
- A link edited through one process redirects to its new destination from the other.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from referkit.models import WebhookAttempt, WebhookMessage
from tests import pgbouncer
from tests.processes import Server, cli_env, run_cli, serve, throwaway_postgres, worker
from tests.webhook.receiver import Receiver, receiving

PG_URL = os.environ.get("REFERKIT_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("REFERKIT_TEST_REDIS_URL")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (PG_URL and REDIS_URL),
        reason="needs REFERKIT_TEST_DATABASE_URL and REFERKIT_TEST_REDIS_URL",
    ),
    pytest.mark.skipif(
        pgbouncer.executable() is None and not pgbouncer.required(),
        reason="pgbouncer is not installed",
    ),
]

MESSAGES = 1000
CONCURRENCY = 16
DELIVERY_SECONDS = 240  # a shared, loaded CI machine; a quiet one needs a fraction of it
SECRET_KEY = "scale-out-secret-key-" + "x" * 32


@dataclass
class Deployment:
    first: Server
    second: Server
    headers: dict[str, str]
    receiver: Receiver
    database_url: str  # straight to PostgreSQL, for the test's own checks


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    assert PG_URL is not None
    assert REDIS_URL is not None
    tmp_path = tmp_path_factory.mktemp("scale-out")
    with ExitStack() as stack:
        direct = stack.enter_context(throwaway_postgres(PG_URL))
        bounced = stack.enter_context(pgbouncer.pgbouncer(direct, pool_size=10))
        receiver = stack.enter_context(receiving())
        env = cli_env(
            tmp_path / "data",
            database_url=bounced,
            database_pgbouncer="true",
            redis_url=REDIS_URL,
            redis_prefix=f"t-{uuid.uuid4().hex}",
            secret_key=SECRET_KEY,
            worker_in_process="false",
            worker_poll_seconds="0.2",
            webhook_allow_private_targets="true",
            link_cache_ttl_seconds="300",
            rate_limit_per_minute="100000",  # the main key makes over a thousand calls
            log_level="warning",
        )
        upgraded = run_cli("db", "upgrade", env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        created = run_cli("keys", "create", "--workspace", "Scale", "--json", env=env)
        assert created.returncode == 0, created.stderr
        headers = {"Authorization": f"Bearer {json.loads(created.stdout)['secret']}"}
        logs = tmp_path / "logs"
        first = stack.enter_context(serve(env, logs, "--no-access-log"))
        second = stack.enter_context(serve(env, logs, "--no-access-log"))
        for _ in range(2):
            stack.enter_context(worker(env, logs))
        yield Deployment(first, second, headers, receiver, direct)


async def _create_members(deployment: Deployment, program_id: str) -> None:
    """``MESSAGES`` new members, alternately through each API process."""
    numbers = iter(range(MESSAGES))
    servers = (deployment.first, deployment.second)

    async def client(http: httpx.AsyncClient) -> None:
        for n in numbers:
            server = servers[n % 2]
            response = await http.post(
                f"{server.base_url}/api/v1/programs/{program_id}/members",
                json={"email": f"member-{n}@example.com"},
                headers=deployment.headers,
            )
            assert response.status_code == 201, response.text

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(CONCURRENCY)))


async def _outcomes(url: str, endpoint_id: str) -> tuple[Counter[str], Counter[int]]:
    """Read straight from PostgreSQL: the endpoint's messages by status, and how many messages
    had 0, 1, 2… attempts answered 2xx (a refused connection is a failed attempt the receiver
    never saw, retried later; a second 2xx would be a second delivery)."""
    engine = create_async_engine(url, poolclass=NullPool)
    answered = case((WebhookAttempt.status_code.between(200, 299), 1), else_=0)
    try:
        async with engine.connect() as conn:
            statuses = await conn.execute(
                select(WebhookMessage.status, func.count())
                .where(WebhookMessage.endpoint_id == endpoint_id)
                .group_by(WebhookMessage.status)
            )
            per_message = await conn.execute(
                select(func.sum(answered))
                .join(WebhookMessage, WebhookMessage.id == WebhookAttempt.message_id)
                .where(WebhookMessage.endpoint_id == endpoint_id)
                .group_by(WebhookAttempt.message_id)
            )
            by_status = Counter({status: int(n) for status, n in statuses})
            return by_status, Counter(int(n) for (n,) in per_message)
    finally:
        await engine.dispose()


def test_each_webhook_message_is_delivered_exactly_once(deployment: Deployment) -> None:
    first, headers = deployment.first, deployment.headers
    endpoint = httpx.post(
        f"{first.base_url}/api/v1/webhooks",
        json={"url": deployment.receiver.url, "events": ["member.created"]},
        headers=headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    program = httpx.post(
        f"{first.base_url}/api/v1/programs",
        json={"name": "Scale-out", "landing_url": "https://example.com/join"},
        headers=headers,
    )
    assert program.status_code == 201, program.text
    started = time.monotonic()
    asyncio.run(_create_members(deployment, program.json()["id"]))
    created = time.monotonic() - started

    deadline = time.monotonic() + DELIVERY_SECONDS
    while len(deployment.receiver.ids()) < MESSAGES:
        assert time.monotonic() < deadline, f"{len(deployment.receiver.ids())} delivered"
        time.sleep(0.2)
    print(f"{MESSAGES} members in {created:.1f} s, delivered {time.monotonic() - started:.1f} s")
    time.sleep(2)  # a second delivery of any message would arrive meanwhile (poll: 0.2 s)

    delivered = Counter(deployment.receiver.ids())
    assert len(delivered) == MESSAGES
    assert [n for n in delivered.values() if n != 1] == []
    bodies = {json.loads(r.body)["data"]["email"] for r in deployment.receiver.received}
    assert bodies == {f"member-{n}@example.com" for n in range(MESSAGES)}
    statuses, successes = asyncio.run(_outcomes(deployment.database_url, endpoint.json()["id"]))
    assert statuses == Counter({"succeeded": MESSAGES})
    assert successes == Counter({1: MESSAGES})


def test_a_rate_limit_holds_across_both_api_processes(deployment: Deployment) -> None:
    first, second = deployment.first, deployment.second
    limited = httpx.post(
        f"{first.base_url}/api/v1/keys",
        json={"name": "sixty a minute", "scope": "read_only", "rate_limit_per_minute": 60},
        headers=deployment.headers,
    )
    assert limited.status_code == 201, limited.text
    sixty = {"Authorization": f"Bearer {limited.json()['secret']}"}
    with httpx.Client(timeout=30) as http:
        statuses = [
            http.get(f"{server.base_url}/api/v1/programs", headers=sixty).status_code
            for _ in range(40)
            for server in (first, second)
        ]
    assert statuses[:60] == [200] * 60
    assert statuses[60:] == [429] * 20


def _location(server: Server, code: str) -> str:
    response = httpx.get(f"{server.base_url}/r/{code}", headers={"user-agent": "Mozilla/5.0"})
    assert response.status_code == 302, response.text
    return response.headers["location"].split("?")[0]


def test_a_link_edited_through_one_process_moves_in_the_other(deployment: Deployment) -> None:
    first, second, headers = deployment.first, deployment.second, deployment.headers
    link = httpx.post(
        f"{first.base_url}/api/v1/links",
        json={"destination_url": "https://example.com/before"},
        headers=headers,
    ).json()
    # Both processes now cache the link.
    for server in (first, second):
        assert _location(server, link["code"]) == "https://example.com/before"
    edited = httpx.patch(
        f"{first.base_url}/api/v1/links/{link['id']}",
        json={"destination_url": "https://example.com/after"},
        headers=headers,
    )
    assert edited.status_code == 200, edited.text
    # The change crosses Redis while the edit's answer travels back: the other process's
    # next click follows it (a few milliseconds of grace for a loaded machine).
    deadline = time.monotonic() + 1.0
    while (seen := _location(second, link["code"])) != "https://example.com/after":
        assert time.monotonic() < deadline, seen
        time.sleep(0.01)
    assert _location(first, link["code"]) == "https://example.com/after"
