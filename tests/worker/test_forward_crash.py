"""Ad-network forwards survive SIGKILL of a real ``referkit worker`` process.

A loopback receiver stands in for Meta (``/{dataset}/events``, one request per batch, deduping
on ``event_id``) and for a postback URL (one GET per event, no dedup). Each trial adds app
installs (a forward each for Meta and for the postback), starts a worker and lets the receiver
answer 2xx to the trial's first three requests; from then on it holds every new request
unanswered. Once a request is held (the worker is mid-delivery) and every forward the
receiver answered is committed as delivered, the worker is SIGKILLed; the held requests are
then dropped unanswered. A last worker drains the rest.

Synchronising on what the receiver saw (not on sleeps) makes every kill land mid-delivery on a
loaded machine too. Afterwards: every forward was answered 2xx once; no forward that was
answered 2xx was ever sent again; a forward sent more than once was one the dead worker never
saw answered, and every copy carried the same ``event_id``. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from referkit.app import create_app
from referkit.config import Settings
from referkit.models import Integration, IntegrationForward
from tests.factories import Key, new_key
from tests.worker.test_crash import SECRET_KEY, crash_url, start_worker, stop, worker_env

pytestmark = pytest.mark.slow
__all__ = ["crash_url"]  # the fixture, shared with the webhook crash test

TRIALS = 6
INSTALLS_PER_TRIAL = 10
WAIT = 30.0  # seconds any other synchronisation may take
STARTUP = 180.0  # seconds a worker may take to start and send
ANSWERED_PER_TRIAL = 3  # requests the receiver answers in a trial before it holds
_numbers = itertools.count()


@dataclass
class Seen:
    network: str
    event_ids: list[str]
    held: bool
    answered: bool = False


@dataclass
class Receiver:
    """Answers 200 to the next ``budget`` requests, then holds every request unanswered (the
    receiver decides, so no latency of the test's own loop lets the worker run ahead)."""

    seen: list[Seen] = field(default_factory=list)
    budget: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base: str = ""

    def arrived(self, network: str, event_ids: list[str]) -> Seen | None:
        """Record a request; None when it is to be held."""
        with self.lock:
            seen = Seen(network, event_ids, held=self.budget <= 0)
            self.budget -= 1
            self.seen.append(seen)
            return None if seen.held else seen

    def count(self, *, since: int = 0, held: bool | None = None) -> int:
        with self.lock:
            return sum(1 for s in self.seen[since:] if held is None or s.held == held)

    def answering_ids(self) -> set[tuple[str, str]]:
        """Every (network, event_id) of a request answered or being answered."""
        with self.lock:
            return {(s.network, e) for s in self.seen if not s.held for e in s.event_ids}


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            if url.path.startswith("/pb"):
                network, ids = "postback", parse_qs(url.query)["ev"]
            else:
                network, ids = "meta", [e["event_id"] for e in orjson.loads(body)["data"]]
            seen = receiver.arrived(network, ids)
            if seen is None:
                receiver.release.wait(60)
                self.close_connection = True  # dropped unanswered: the worker is dead
                return
            text = b'{"events_received": %d}' % len(ids)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
            self.wfile.flush()
            with receiver.lock:
                seen.answered = True

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


@asynccontextmanager
async def api(
    url: str, data_dir: Path, receiver: Receiver
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, Key]]:
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        base_url="http://testserver",
        secret_key=SECRET_KEY,
        worker_in_process=False,
        webhook_allow_private_targets=True,
        rate_limit_enabled=False,
        meta_base_url=receiver.base,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client, await new_key(app)


async def forwarding_app(client: httpx.AsyncClient, key: Key, receiver: Receiver) -> str:
    created = await client.post(
        "/api/v1/apps",
        json={"name": "Crash", "platforms": {"android": {"package": "com.example.crash"}}},
        headers=key.headers,
    )
    assert created.status_code == 201, created.text
    app_id: str = created.json()["id"]
    body = {
        "data": [
            {
                "network": "meta",
                "enabled": True,
                "send": "all",
                "credentials": {"access_token": "meta-token"},
                "config": {"dataset_id": "42"},
                "event_map": {"install": "MobileAppInstall"},
            },
            {
                "network": "postback",
                "enabled": True,
                "send": "all",
                "config": {"url": receiver.base + "/pb?ev={event_id}&name={event_name}"},
                "event_map": {"install": "install"},
            },
        ]
    }
    answer = await client.put(f"/api/v1/apps/{app_id}/integrations", json=body, headers=key.headers)
    assert answer.status_code == 200, answer.text
    return app_id


async def install(client: httpx.AsyncClient, key: Key, app_id: str) -> str:
    n = next(_numbers)
    event_id = f"crash-install-{n}"
    response = await client.post(
        f"/api/v1/apps/{app_id}/installs",
        json={
            "event_id": event_id,
            "device": {"os": "android", "ip": f"198.51.100.{n % 250}", "gaid": f"gaid-{n}"},
        },
        headers=key.headers,
    )
    assert response.status_code == 201, response.text
    return event_id


async def forward_states(app: Any) -> dict[str, int]:
    async with app.state.sessions() as session:
        rows = await session.execute(
            select(IntegrationForward.status, func.count()).group_by(IntegrationForward.status)
        )
        return {str(status): int(count) for status, count in rows.all()}


async def delivered(app: Any) -> set[tuple[str, str]]:
    """(network, event_id) of every forward committed as succeeded."""
    async with app.state.sessions() as session:
        rows = await session.execute(
            select(Integration.network, IntegrationForward.facts)
            .join(Integration, Integration.id == IntegrationForward.integration_id)
            .where(IntegrationForward.status == "succeeded")
        )
        return {(network, facts["event_id"]) for network, facts in rows.all()}


async def until(check: Any, within: float = WAIT) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_sigkill_mid_forward_loses_none_and_resends_no_answered_one(
    crash_url: str, tmp_path: Path
) -> None:
    # A send timeout longer than any trial: a held request stays in flight until the kill,
    # so a worker that records a round's outcomes only when its slowest request ends fails.
    env = worker_env(
        tmp_path,
        crash_url,
        webhook_timeout_seconds="40",
        worker_lease_seconds="2",
        worker_batch_size="2",
    )
    log = tmp_path / "workers.log"
    with receiving() as receiver:
        env["REFERKIT_META_BASE_URL"] = receiver.base
        async with api(crash_url, tmp_path, receiver) as (app, client, key):
            app_id = await forwarding_app(client, key, receiver)
            expected: set[tuple[str, str]] = set()
            kills_mid_delivery = 0
            for _ in range(TRIALS):
                for _ in range(INSTALLS_PER_TRIAL):
                    event_id = await install(client, key, app_id)
                    expected |= {("meta", event_id), ("postback", event_id)}
                start = receiver.count()
                receiver.budget, receiver.release = ANSWERED_PER_TRIAL, threading.Event()
                process = await start_worker(env, log)

                async def answered_one(start: int = start) -> bool:
                    return receiver.count(since=start, held=False) > 0

                async def holds_one(start: int = start) -> bool:
                    return receiver.count(since=start, held=True) > 0

                # Bounds, not sleeps: a loaded machine may take a minute to start the worker.
                await until(answered_one, within=STARTUP)
                in_flight = await until(holds_one)
                answered = receiver.answering_ids()

                async def answered_committed(answered: set[tuple[str, str]] = answered) -> bool:
                    return answered <= await delivered(app)

                # What the receiver answered is committed before the kill; what it holds is
                # mid-delivery when the worker dies.
                # Well within the send timeout: a held request must not be what ends the round.
                committed = await until(answered_committed, within=20)
                assert committed, "answered forwards were not recorded while another was held"
                await stop(process, signal.SIGKILL)
                assert process.returncode == -signal.SIGKILL
                receiver.release.set()
                kills_mid_delivery += in_flight

            receiver.budget = 1_000_000
            drain = await start_worker(env, log)

            async def all_delivered() -> bool:
                return await forward_states(app) == {"succeeded": len(expected)}

            # Generous: a loaded machine may take a minute to start Python.
            drained = await until(all_delivered, within=240)
            assert drained, await forward_states(app)
            await stop(drain, signal.SIGTERM)
            assert drain.returncode == 0, log.read_text()

    # Every forward arrived and was answered 2xx exactly once.
    answers: dict[tuple[str, str], int] = defaultdict(int)
    sends: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for seen in receiver.seen:
        for event_id in seen.event_ids:
            sends[(seen.network, event_id)].append(seen.answered)
            answers[(seen.network, event_id)] += seen.answered
    assert set(sends) == expected
    assert all(answers[k] == 1 for k in expected), {k: v for k, v in answers.items() if v != 1}
    # Nothing was sent again once answered: an event's answered request is its last one.
    assert all(history[-1] and sum(history) == 1 for history in sends.values())
    resent = sum(len(history) - 1 for history in sends.values())
    assert kills_mid_delivery >= TRIALS // 2, "the kills should land mid-delivery"
    assert resent > 0, "some forwards held at a kill should have been sent again"
    print(f"{kills_mid_delivery} kills mid-delivery, {resent} unanswered sends repeated")
