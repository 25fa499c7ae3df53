"""Stats read time at 100,000 and at 1,000,000 events: the ratio shows reads do not grow with
the number of events (they read daily rollups only).

The data is generated here, straight into the database, with a progress bar: purchase events
spread over 365 days and MEMBERS referrers, and the rollup rows the batcher would have written
for them. Then ``GET /programs/{id}/stats`` (a year, by day), ``GET /members/{id}/stats`` and
``GET /programs/{id}/leaderboard`` are timed through HTTP.

    .venv/bin/python -m bench.stats
    BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.stats          (BENCH_SKIP_SQLITE=1: PostgreSQL only)
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.common import LOAD_CPU, cli, postgres, referkit_env, seed, server
from referkit.event.repository import EVENTS
from referkit.kit.ids import new_id
from referkit.stats.rollups import RollupBuffer

MEMBERS = 200
DAYS = 365
CHUNK = 20_000
SAMPLES = 200


def _members(base: str, secret: str, program_id: str) -> list[str]:
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        return [
            http.post(
                f"/api/v1/programs/{program_id}/members", json={"email": f"m{i}@example.com"}
            ).json()["id"]
            for i in range(MEMBERS)
        ]


async def generate(
    engine: AsyncEngine, workspace_id: str, program_id: str, members: list[str], n: int
) -> None:
    rng = random.Random(n)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    with Progress() as progress:
        task = progress.add_task(f"generating {n:,} events", total=n)
        done = 0
        while done < n:
            size = min(CHUNK, n - done)
            rows: list[dict[str, Any]] = []
            rollups = RollupBuffer()
            for _ in range(size):
                member = rng.choice(members)
                at = today - timedelta(days=rng.randrange(DAYS), minutes=rng.randrange(600))
                amount = rng.randrange(100, 10_000)
                rows.append(
                    {
                        "id": new_id("evt"),
                        "workspace_id": workspace_id,
                        "livemode": True,
                        "event_id": new_id("evt"),
                        "type": "purchase",
                        "occurred_at": at,
                        "program_id": program_id,
                        "member_id": member,
                        "amount": amount,
                        "currency": "USD",
                        "properties": {},
                        "outcome": {},
                        "created_at": at,
                    }
                )
                scope = {"workspace_id": workspace_id, "livemode": True, "at": at}
                # A purchase after a click; some of them a new (or qualified) referral, so the
                # leaderboard has something to rank.
                rollups.add(
                    **scope,
                    program_id=program_id,
                    member_id=member,
                    conversions=1,
                    clicks=1,
                    referrals=int(rng.random() < 0.1),
                    qualified=int(rng.random() < 0.03),
                )
                rollups.add(
                    **scope, program_id=program_id, member_id=member, currency="USD", revenue=amount
                )
            async with engine.begin() as conn:
                await EVENTS.insert(conn, rows)
                await rollups.write(conn)
            done += size
            progress.update(task, advance=size)


async def _generate(
    url: str, workspace_id: str, program_id: str, members: list[str], n: int
) -> None:
    # One event loop for the engine's whole life: asyncpg connections belong to their loop.
    engine = create_async_engine(url)
    try:
        await generate(engine, workspace_id, program_id, members, n)
        if engine.dialect.name == "postgresql":
            # Settle the bulk load before timing reads: write its dirty pages out now rather
            # than during the timed requests, and give the planner statistics, as autovacuum
            # would (this machine's server runs without it).
            async with engine.connect() as conn:
                await conn.execute(text("CHECKPOINT"))
                await conn.execute(text("ANALYZE"))
                await conn.commit()
    finally:
        await engine.dispose()


def _time(http: httpx.Client, path: str, params: dict[str, Any]) -> tuple[float, float]:
    for _ in range(10):
        http.get(path, params=params).raise_for_status()
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        http.get(path, params=params).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def run(env: dict[str, str], url: str, label: str) -> None:
    cli(env, "db", "upgrade")
    app = ["referkit.app:create_app", "--factory"]
    with server(app, env) as base:
        rows = seed(base, env)
        members = _members(base, rows["secret"], rows["program_id"])
        with httpx.Client(base_url=base, timeout=30) as http:
            workspace_id = http.get(
                "/api/v1/workspace", headers={"Authorization": f"Bearer {rows['secret']}"}
            ).json()["id"]
        os.sched_setaffinity(0, {int(LOAD_CPU)})
        headers = {"Authorization": f"Bearer {rows['secret']}"}
        year = {
            "from": (datetime.now(UTC) - timedelta(days=DAYS - 1)).date().isoformat(),
            "to": datetime.now(UTC).date().isoformat(),
        }
        queries = {
            "program stats (365 days)": (f"/api/v1/programs/{rows['program_id']}/stats", year),
            "member stats": (f"/api/v1/members/{members[0]}/stats", {}),
            "leaderboard": (f"/api/v1/programs/{rows['program_id']}/leaderboard", {}),
        }
        results: dict[int, dict[str, tuple[float, float]]] = {}
        generated = 0
        for total in (100_000, 1_000_000):
            asyncio.run(
                _generate(url, workspace_id, rows["program_id"], members, total - generated)
            )
            generated = total
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                results[total] = {
                    name: _time(http, path, params) for name, (path, params) in queries.items()
                }
    for name in queries:
        small, big = results[100_000][name], results[1_000_000][name]
        print(
            f"[{label}] {name:26s} median {small[0]:6.2f} → {big[0]:6.2f} ms, "
            f"p95 {small[1]:6.2f} → {big[1]:6.2f} ms"
        )
        print(f"RATIO [{label}] {name} 1M / 100k (median)  {big[0] / small[0]:.3f} (≤ 1.5)")


def main() -> None:
    if os.environ.get("BENCH_SKIP_SQLITE") != "1":
        with tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp:
            data = Path(tmp)
            run(referkit_env(data), f"sqlite+aiosqlite:///{data / 'referkit.db'}", "sqlite")
    pg = os.environ.get("BENCH_PG_URL")
    if pg:
        with postgres(pg) as url, tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp:
            run(referkit_env(Path(tmp), database_url=url), url, "postgresql")


if __name__ == "__main__":
    main()
