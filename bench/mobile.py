"""Mobile attribution: install throughput and app stats reads.

1. Installs: single ``POST /api/v1/apps/{id}/installs`` (wrk, each a new device running the
   whole attribution) against the bare ASGI app measured in the same run, and batches of 1000
   ``install`` events through ``POST /api/v1/events/batch`` in installs per second.
2. App stats at 100,000 and at 1,000,000 events: installs and purchases spread over a year,
   30 links and 6 networks, with the app rollup rows the batcher would have written; then
   ``/apps/{id}/stats`` (a year by day, and by link), ``/overview`` and ``/portfolio`` are
   timed through HTTP. The 1M / 100k ratio shows reads do not grow with events stored.

    .venv/bin/python -m bench.mobile
    BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.mobile          (BENCH_SKIP_SQLITE=1: PostgreSQL only)

``BENCH_MOBILE_ONLY=installs`` or ``=stats`` runs one half.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.progress import Progress
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.common import LOAD_CPU, REPETITIONS, cli, measure, postgres, referkit_env, seed, server
from referkit.event.repository import EVENTS
from referkit.kit.ids import new_id
from referkit.stats.app_rollups import AppRollupBuffer

LUA = str(Path(__file__).with_name("install.lua"))
BATCH = 1000
BATCH_REQUESTS = 20
BATCH_CONCURRENCY = 4
DAYS = 365
LINKS = 30
NETWORKS = ["meta", "google_ads", "tiktok", "email", "influencer", ""]
CHUNK = 20_000
SAMPLES = 100
HEAP = """
SELECT n_live_tup AS live, n_dead_tup AS dead, n_tup_upd AS updated, n_tup_hot_upd AS hot,
       pg_relation_size(relid) / 8192 AS pages, pg_indexes_size(relid) / 8192 AS index_pages,
       autovacuum_count AS autovacuums
FROM pg_stat_user_tables WHERE relname = 'app_rollups'
"""


def _app(base: str, secret: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        app = http.post(
            "/api/v1/apps",
            json={"name": "Bench", "platforms": {"ios": {"app_store_id": "1"}}},
        ).json()
        links = [
            http.post(f"/api/v1/apps/{app['id']}/links", json={"campaign": f"c{i % 5}"}).json()[
                "id"
            ]
            for i in range(LINKS)
        ]
        workspace_id = http.get("/api/v1/workspace").json()["id"]
    return {"id": app["id"], "links": links, "workspace_id": workspace_id}


async def _batches(base: str, secret: str, app_id: str) -> float:
    """Installs per second over BATCH_REQUESTS batches, BATCH_CONCURRENCY in flight."""
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    run = uuid.uuid4().hex[:8]
    bodies = [
        orjson.dumps(
            {
                "events": [
                    {
                        "event_id": f"{run}-{i}-{j}",
                        "type": "install",
                        "app_id": app_id,
                        "device": {"os": "android", "ip": f"10.{i}.{j // 256}.{j % 256}"},
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
        tail = orjson.loads(b"{" + response.content[response.content.rindex(b'"stored"') :])
        assert tail["stored"] == BATCH, response.text

    async def worker(http: httpx.AsyncClient, queue: list[bytes]) -> None:
        while queue:
            await one(http, queue.pop())

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300) as http:
        await one(http, bodies.pop())
        started = time.perf_counter()
        await asyncio.gather(*(worker(http, bodies) for _ in range(BATCH_CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return BATCH_REQUESTS * BATCH / elapsed


def installs(label: str, env: dict[str, str], single: bool) -> None:
    app = ["referkit.app:create_app", "--factory"]
    with server(app, env) as base:
        rows = seed(base, env)
        mobile = _app(base, rows["secret"])
        if single:
            os.environ["BENCH_SECRET"] = rows["secret"]
            os.environ["BENCH_APP_ID"] = mobile["id"]
            one = measure(f"{base}/api/v1/apps/{mobile['id']}/installs", 32, LUA)
            with server(["bench.bare_app:app"]) as bare_base:
                bare = measure(f"{bare_base}/api/v1/apps/x/installs", 32, LUA)
            print(f"[{label}] single install    {one.rps:10.0f} req/s  p99 {one.p99_ms:.1f} ms")
            print(f"[{label}] bare ASGI         {bare.rps:10.0f} req/s")
            print(f"[{label}] non-2xx answers: {one.non_2xx_3xx}")
            print(f"RATIO [{label}] single install / bare ASGI  {one.rps / bare.rps:.3f}")
        os.sched_setaffinity(0, {int(LOAD_CPU)})
        rates = [
            asyncio.run(_batches(base, rows["secret"], mobile["id"])) for _ in range(REPETITIONS)
        ]
        print(f"[{label}] batch installs    {statistics.median(rates):10.0f} installs/s (median)")


async def generate(engine: AsyncEngine, mobile: dict[str, Any], n: int) -> None:
    rng = random.Random(n)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    with Progress() as progress:
        task = progress.add_task(f"generating {n:,} app events", total=n)
        done = 0
        while done < n:
            size = min(CHUNK, n - done)
            rows: list[dict[str, Any]] = []
            rollups = AppRollupBuffer()
            for _ in range(size):
                at = today - timedelta(days=rng.randrange(DAYS), minutes=rng.randrange(600))
                link = rng.choice(mobile["links"])
                network = rng.choice(NETWORKS)
                purchase = rng.random() < 0.3
                amount = rng.randrange(100, 10_000) if purchase else None
                rows.append(
                    {
                        "id": new_id("evt"),
                        "workspace_id": mobile["workspace_id"],
                        "livemode": True,
                        "event_id": new_id("evt"),
                        "type": "purchase" if purchase else "install",
                        "occurred_at": at,
                        "app_id": mobile["id"],
                        "link_id": link,
                        "amount": amount,
                        "currency": "USD" if purchase else None,
                        "properties": {},
                        "outcome": {},
                        "created_at": at,
                    }
                )
                scope: dict[str, Any] = {
                    "workspace_id": mobile["workspace_id"],
                    "livemode": True,
                    "app_id": mobile["id"],
                    "day": at.date(),
                    "link_id": link,
                    "network": network,
                    "campaign": f"c{mobile['links'].index(link) % 5}",
                }
                if purchase:
                    rollups.add(**scope, events=1, conversions=1)
                    rollups.add(**scope, currency="USD", revenue=amount or 0)
                else:
                    rollups.add(**scope, installs=1, clicks=3)
            async with engine.begin() as conn:
                await EVENTS.insert(conn, rows)
                await rollups.write(conn)
            done += size
            progress.update(task, advance=size)


async def _generate(url: str, mobile: dict[str, Any], n: int) -> None:
    engine = create_async_engine(url)
    try:
        await generate(engine, mobile, n)
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                await conn.execute(text("CHECKPOINT"))
                await conn.execute(text("ANALYZE"))
                await conn.commit()
    finally:
        await engine.dispose()
    if engine.dialect.name == "postgresql":
        await _heap(url)


async def _heap(url: str) -> None:
    """What the upserts left in ``app_rollups``: live and dead row versions, heap-only
    updates, pages (no vacuum has run unless the server's autovacuum did)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text(HEAP))).one()
    finally:
        await engine.dispose()
    print(
        f"app_rollups: {row.live:,} live, {row.dead:,} dead row versions; "
        f"{row.hot:,} of {row.updated:,} updates heap-only; {row.pages:,} heap pages, "
        f"{row.index_pages:,} index pages; autovacuum runs: {row.autovacuums}"
    )


def _time(http: httpx.Client, path: str, params: dict[str, Any]) -> float:
    for _ in range(5):
        http.get(path, params=params).raise_for_status()
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        http.get(path, params=params).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def stats(label: str, env: dict[str, str], url: str) -> None:
    app = ["referkit.app:create_app", "--factory"]
    with server(app, env) as base:
        rows = seed(base, env)
        mobile = _app(base, rows["secret"])
        os.sched_setaffinity(0, {int(LOAD_CPU)})
        year = {
            "from": (datetime.now(UTC) - timedelta(days=DAYS - 1)).date().isoformat(),
            "to": datetime.now(UTC).date().isoformat(),
        }
        prefix = f"/api/v1/apps/{mobile['id']}"
        queries = {
            "app stats by day (365 d)": (f"{prefix}/stats", {**year, "group_by": "day"}),
            "app stats by link (365 d)": (f"{prefix}/stats", {**year, "group_by": "link"}),
            "overview (30 d)": (f"{prefix}/overview", {}),
            "portfolio (30 d)": ("/api/v1/portfolio", {}),
        }
        results: dict[int, dict[str, float]] = {}
        generated = 0
        headers = {"Authorization": f"Bearer {rows['secret']}"}
        for total in (100_000, 1_000_000):
            asyncio.run(_generate(url, mobile, total - generated))
            generated = total
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                results[total] = {n: _time(http, p, q) for n, (p, q) in queries.items()}
    for name in queries:
        small, big = results[100_000][name], results[1_000_000][name]
        print(f"[{label}] {name:27s} median {small:6.2f} → {big:6.2f} ms")
        print(f"RATIO [{label}] {name} 1M / 100k (median)  {big / small:.3f} (≤ 1.5)")


def _run(label: str, env: dict[str, str], url: str) -> None:
    only = os.environ.get("BENCH_MOBILE_ONLY")
    cli(env, "db", "upgrade")
    if only in (None, "installs"):
        installs(label, env, single=True)
    if only in (None, "stats"):
        stats(label, env, url)


def main() -> None:
    if os.environ.get("BENCH_SKIP_SQLITE") != "1":
        with tempfile.TemporaryDirectory(prefix="bench-mobile-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'referkit.db'}"
            _run("sqlite", referkit_env(Path(tmp)), url)
    pg = os.environ.get("BENCH_PG_URL")
    if pg:
        with postgres(pg) as url, tempfile.TemporaryDirectory(prefix="bench-mobile-") as tmp:
            _run("postgresql", referkit_env(Path(tmp), database_url=url), url)


if __name__ == "__main__":
    main()
