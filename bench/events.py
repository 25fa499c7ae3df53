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
import orjson

from bench.common import LOAD_CPU, REPETITIONS, cli, measure, postgres, referkit_env, seed, server

BATCH = 1000
BATCH_CONCURRENCY = 4
BATCH_REQUESTS = 40
LUA = str(Path(__file__).with_name("event.lua"))


async def _batches(base: str, secret: str) -> float:
    """Events per second over BATCH_REQUESTS batches, BATCH_CONCURRENCY in flight at a time.

    Bodies are encoded before the clock starts, and only the counts at the end of each answer
    are decoded, so the figure is the server's rate rather than the load generator's JSON work.
    """
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    run = uuid.uuid4().hex[:8]
    bodies = [
        orjson.dumps(
            {
                "events": [
                    {
                        "event_id": f"{run}-{i}-{j}",
                        "type": "purchase",
                        "amount": 100,
                        "currency": "USD",
                    }
                    for j in range(BATCH)
                ]
            }
        )
        for i in range(BATCH_REQUESTS + 1)
    ]

    async def one(http: httpx.AsyncClient, body: bytes) -> None:
        response = await http.post("/api/v1/events/batch", content=body)
        assert response.status_code == 200, response.text
        # The counts follow the thousand per-event answers: read them from the tail, rather
        # than spend the load generator's core decoding what it does not look at.
        tail = orjson.loads(b"{" + response.content[response.content.rindex(b'"stored"') :])
        assert tail["stored"] == BATCH, response.text

    async def worker(http: httpx.AsyncClient, queue: list[bytes]) -> None:
        while queue:
            await one(http, queue.pop())

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
        await one(http, bodies.pop())  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(worker(http, bodies) for _ in range(BATCH_CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return BATCH_REQUESTS * BATCH / elapsed


def floor(label: str, url: str) -> float:
    """Batches against the bare app storing four fields per event (``bench/floor_app.py``)."""
    with server(["bench.floor_app:app"], {**os.environ, "BENCH_FLOOR_URL": url}) as base:
        os.sched_setaffinity(0, {int(LOAD_CPU)})
        rate = statistics.median(asyncio.run(_batches(base, "-")) for _ in range(REPETITIONS))
    print(f"[{label}] floor: bare batch storing 4 fields {rate:10.0f} events/s (median)")
    return rate


def run(env: dict[str, str], label: str, single: bool, floor_url: str) -> None:
    floor(label, floor_url)
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
        run(referkit_env(Path(tmp)), "sqlite", single=True, floor_url=f"sqlite:///{tmp}/floor.db")
    pg = os.environ.get("BENCH_PG_URL")
    if pg:
        with postgres(pg) as url, tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
            floor_url = url.replace("+asyncpg", "")
            run(referkit_env(Path(tmp), database_url=url), "postgresql", False, floor_url)


if __name__ == "__main__":
    main()
