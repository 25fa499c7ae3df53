"""SIGKILL a real server mid-load: every click whose 302 and every event whose 2xx the client
received is in the database afterwards (SQLite and PostgreSQL), and the server starts again.

Bounded: about two seconds of load per backend, a 10 s cap on every request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from referkit.models import Click, Event
from tests.processes import PG_URL, cli_env, run_cli, serve, throwaway_postgres

pytestmark = pytest.mark.slow

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
LOAD_SECONDS = 1.5
WORKERS = 16


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    data_dir = tmp_path / "data"
    with ExitStack() as stack:
        if request.param == "postgresql":
            if not PG_URL:
                pytest.skip("REFERKIT_TEST_DATABASE_URL is not set")
            url = stack.enter_context(throwaway_postgres(PG_URL))
            env = cli_env(data_dir, database_url=url)
            upgraded = run_cli("db", "upgrade", env=env)
            assert upgraded.returncode == 0, upgraded.stderr
        else:
            url = f"sqlite+aiosqlite:///{(data_dir / 'referkit.db').resolve()}"
            env = cli_env(data_dir)
        yield url, env


async def _load(
    base_url: str, secret: str, code: str, stop: asyncio.Event
) -> tuple[set[str], set[str]]:
    """Redirects and events until ``stop``; returns the acknowledged click ids and event ids."""
    clicks: set[str] = set()
    events: set[str] = set()
    headers = {"Authorization": f"Bearer {secret}", "User-Agent": BROWSER}
    counter = iter(range(10**9))

    async def worker(n: int) -> None:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as http:
            while not stop.is_set():
                i = next(counter)
                try:
                    if n % 2:
                        response = await http.get(f"/r/{code}")
                        if response.status_code == 302:
                            query = urlsplit(response.headers["location"]).query
                            clicks.add(parse_qs(query)["rk_click"][0])
                    else:
                        event_id = f"evt-{i}"
                        response = await http.post(
                            "/api/v1/events", json={"event_id": event_id, "type": "open"}
                        )
                        if response.status_code in (200, 201):
                            events.add(event_id)
                except httpx.TransportError:
                    await asyncio.sleep(0.01)  # the server is gone; nothing was acknowledged

    await asyncio.gather(*(worker(n) for n in range(WORKERS)))
    return clicks, events


async def _stored(url: str, click_ids: set[str], event_ids: set[str]) -> tuple[set[str], set[str]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            clicks = set((await conn.scalars(select(Click.id))).all())
            events = set((await conn.scalars(select(Event.event_id))).all())
    finally:
        await engine.dispose()
    return click_ids & clicks, event_ids & events


async def test_sigkill_loses_nothing_acknowledged(
    database: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = database
    created = run_cli("keys", "create", "--scope", "full", "--json", env=env)
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["secret"]
    headers = {"Authorization": f"Bearer {secret}"}
    with serve(env, tmp_path / "logs", "--no-access-log") as server:
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=10) as http:
            program = (
                await http.post(
                    "/api/v1/programs", json={"name": "P", "landing_url": "https://example.com/"}
                )
            ).json()
            member = (
                await http.post(
                    f"/api/v1/programs/{program['id']}/members", json={"email": "m@example.com"}
                )
            ).json()
            # A key the load cannot rate-limit: every refused request would be one not tested.
            loader = (
                await http.post(
                    "/api/v1/keys",
                    json={"name": "load", "scope": "full", "rate_limit_per_minute": 1_000_000},
                )
            ).json()
        stop = asyncio.Event()
        load = asyncio.create_task(
            _load(server.base_url, loader["secret"], member["referral_code"], stop)
        )
        await asyncio.sleep(LOAD_SECONDS)
        server.process.kill()  # SIGKILL: no shutdown, no drain
        server.process.wait(timeout=10)
        await asyncio.sleep(0.3)
        stop.set()
        clicks, events = await asyncio.wait_for(load, timeout=30)
    assert len(clicks) > 20, len(clicks)
    assert len(events) > 20, len(events)

    started = time.monotonic()
    with serve(env, tmp_path / "logs", "--no-access-log") as again:
        async with httpx.AsyncClient(base_url=again.base_url, timeout=10) as http:
            assert (await http.get("/readyz")).status_code == 200
    assert time.monotonic() - started < 60
    stored_clicks, stored_events = await _stored(url, clicks, events)
    assert stored_clicks == clicks, f"lost {len(clicks - stored_clicks)} acknowledged clicks"
    assert stored_events == events, f"lost {len(events - stored_events)} acknowledged events"
