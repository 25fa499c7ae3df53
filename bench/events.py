"""Event ingestion: single ``POST /api/v1/events`` against a bare ASGI app (wrk), and batch
ingestion (``POST /api/v1/events/batch``, 1000 events each) in events per second, on SQLite and,
when ``BENCH_PG_URL`` names a PostgreSQL server, on a throwaway database there.

    .venv/bin/python -m bench.events
    BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.events
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.common import LOAD_CPU, REPETITIONS, cli, measure, postgres, referkit_env, seed, server

BATCH = 1000
BATCH_CONCURRENCY = 4
BATCH_REQUESTS = 12
LUA = str(Path(__file__).with_name("event.lua"))


async def _batches(base: str, secret: str) -> float:
    """Events per second over BATCH_REQUESTS batches sent BATCH_CONCURRENCY at a time."""
    headers = {"Authorization": f"Bearer {secret}"}
    run = uuid.uuid4().hex[:8]
    counter = iter(range(10**9))

    async def one(http: httpx.AsyncClient) -> None:
        i = next(counter)
        events = [
            {"event_id": f"{run}-{i}-{j}", "type": "purchase", "amount": 100, "currency": "USD"}
            for j in range(BATCH)
        ]
        response = await http.post("/api/v1/events/batch", json={"events": events})
        assert response.status_code == 200, response.text
        assert response.json()["stored"] == BATCH, response.text

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
        await one(http)  # warm-up
        started = time.perf_counter()
        for _ in range(BATCH_REQUESTS // BATCH_CONCURRENCY):
            await asyncio.gather(*(one(http) for _ in range(BATCH_CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return BATCH_REQUESTS * BATCH / elapsed


def run(env: dict[str, str], label: str, single: bool) -> None:
    app = ["referkit.app:create_app", "--factory"]
    cli(env, "db", "upgrade")
    with server(app, env) as base:
        rows = seed(base, env)
        if single:
            os.environ["BENCH_SECRET"] = rows["secret"]
            one = measure(f"{base}/api/v1/events", 32, LUA)
            with server(["bench.bare_app:app"]) as bare_base:
                bare = measure(f"{bare_base}/api/v1/events", 32, LUA)
            print(f"[{label}] single event      {one.rps:10.0f} req/s  p99 {one.p99_ms:.1f} ms")
            print(f"[{label}] bare ASGI         {bare.rps:10.0f} req/s")
            print(f"[{label}] non-2xx answers: {one.non_2xx_3xx}")
            print(f"RATIO [{label}] single event / bare ASGI  {one.rps / bare.rps:.3f} (≥ 0.15)")
        os.sched_setaffinity(0, {int(LOAD_CPU)})
        rates = [asyncio.run(_batches(base, rows["secret"])) for _ in range(REPETITIONS)]
        print(f"[{label}] batch ingestion   {statistics.median(rates):10.0f} events/s (median)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        run(referkit_env(Path(tmp)), "sqlite", single=True)
    pg = os.environ.get("BENCH_PG_URL")
    if pg:
        with postgres(pg) as url, tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
            run(referkit_env(Path(tmp), database_url=url), "postgresql", single=False)


if __name__ == "__main__":
    main()
