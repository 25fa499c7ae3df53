"""Breakdown read time at 100,000 and at 1,000,000 clicks: the ratio shows reads grow with
days * groups, not with the clicks behind them.

The clicks are generated here, straight into the database, with a progress bar: human clicks
on LINKS member links over DAYS days, from a spread of countries, devices, browsers, referrers
and campaigns, and the dimension rollups counted for them by ``click_deltas`` and
``DimensionBuffer.write`` — the functions the portable click writer runs for every batch. Then
``GET /programs/{id}/breakdown`` and ``GET /links/{id}/stats`` are timed through HTTP, and their
totals checked against a count of the clicks table.

    .venv/bin/python -m bench.breakdown
    BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.breakdown      (BENCH_SKIP_SQLITE=1: PostgreSQL only)
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
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.common import LOAD_CPU, cli, postgres, referkit_env, seed, server
from referkit.kit.ids import new_id
from referkit.link.clicks import CLICKS
from referkit.models import Click
from referkit.stats.dimensions import click_deltas

LINKS = 20
DAYS = 90
CHUNK = 20_000
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "100"))
SMALL, LARGE = (int(n) for n in os.environ.get("BENCH_CLICKS", "100000,1000000").split(","))
"""Clicks stored for the first and the second timing (``BENCH_CLICKS``, for a quick try)."""
COUNTRIES = ["US", "GB", "DE", "FR", "IN", "BR", "JP", "CA", "AU", "ES", "IT", "NL", "MX", ""]
DEVICES = ["mobile", "mobile", "desktop", "tablet", ""]
SYSTEMS = ["iOS", "Android", "Windows", "Mac OS X", "Linux", "Chrome OS", ""]
BROWSERS = ["Mobile Safari", "Chrome", "Chrome Mobile", "Firefox", "Edge", "Safari", "Samsung"]
REFERRERS = ["", "t.co", "facebook.com", "google.com", "linkedin.com", "reddit.com"] + [
    f"blog{n}.example" for n in range(30)
]
SOURCES = ["", "newsletter", "twitter", "facebook", "partner"]
CAMPAIGNS = ["", *(f"campaign-{n}" for n in range(10))]


def _links(base: str, secret: str, program_id: str) -> list[str]:
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for i in range(LINKS - 1):
            http.post(
                f"/api/v1/programs/{program_id}/members", json={"email": f"m{i}@example.com"}
            ).raise_for_status()
        links = http.get("/api/v1/links", params={"program_id": program_id, "limit": 100})
        return [link["id"] for link in links.json()["data"]]


async def generate(
    engine: AsyncEngine, workspace_id: str, program_id: str, links: list[str], n: int
) -> None:
    rng = random.Random(n)
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with Progress() as progress:
        task = progress.add_task(f"generating {n:,} clicks", total=n)
        done = 0
        while done < n:
            size = min(CHUNK, n - done)
            rows: list[dict[str, Any]] = []
            for _ in range(size):
                day = midnight - timedelta(days=rng.randrange(DAYS))
                at = day + timedelta(minutes=rng.randrange(1440))  # within the day
                rows.append(
                    {
                        "id": new_id("clk"),
                        "workspace_id": workspace_id,
                        "livemode": True,
                        "link_id": rng.choice(links),
                        "program_id": program_id,
                        "member_id": None,
                        "code": "bench",
                        "visitor_id": None,
                        "visitor_hash": "v",
                        "platform": "web",
                        "is_bot": False,
                        "is_orphan": False,
                        "is_unique": rng.random() < 0.6,
                        "user_agent": None,
                        "referer": None,
                        "destination_url": "https://example.com/",
                        "created_at": at,
                        "country": rng.choice(COUNTRIES),
                        "device": rng.choice(DEVICES),
                        "os": rng.choice(SYSTEMS),
                        "browser": rng.choice(BROWSERS),
                        "referrer_host": rng.choice(REFERRERS),
                        "utm_source": rng.choice(SOURCES),
                        "utm_campaign": rng.choice(CAMPAIGNS),
                    }
                )
            async with engine.begin() as conn:
                await CLICKS.insert(conn, rows)
                await click_deltas(rows).write(conn)
            done += size
            progress.update(task, advance=size)


async def _generate(url: str, workspace_id: str, program_id: str, links: list[str], n: int) -> int:
    """Generate ``n`` more clicks; answer how many human clicks the table holds now."""
    # One event loop for the engine's whole life: asyncpg connections belong to their loop.
    engine = create_async_engine(url)
    try:
        await generate(engine, workspace_id, program_id, links, n)
        async with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # Settle the bulk load before timing reads (see bench/stats.py).
                await conn.execute(text("CHECKPOINT"))
                await conn.execute(text("ANALYZE"))
                await conn.commit()
            stored = await conn.scalar(
                select(func.count()).select_from(Click).where(Click.is_bot.is_(False))
            )
            return int(stored or 0)
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
        links = _links(base, rows["secret"], rows["program_id"])
        headers = {"Authorization": f"Bearer {rows['secret']}"}
        with httpx.Client(base_url=base, timeout=30, headers=headers) as http:
            workspace_id = http.get("/api/v1/workspace").json()["id"]
        os.sched_setaffinity(0, {int(LOAD_CPU)})
        window = {
            "from": (datetime.now(UTC) - timedelta(days=DAYS - 1)).date().isoformat(),
            "to": datetime.now(UTC).date().isoformat(),
        }
        breakdown = f"/api/v1/programs/{rows['program_id']}/breakdown"
        link = f"/api/v1/links/{links[0]}/stats"
        queries = {
            "program by country": (breakdown, {**window, "group_by": "country"}),
            "program by referrer": (breakdown, {**window, "group_by": "referrer"}),
            "program by utm_campaign": (breakdown, {**window, "group_by": "utm_campaign"}),
            "link by device": (link, {**window, "group_by": "device"}),
            "link totals": (link, window),
        }
        results: dict[int, dict[str, tuple[float, float]]] = {}
        generated = 0
        for total in (SMALL, LARGE):
            stored = asyncio.run(
                _generate(url, workspace_id, rows["program_id"], links, total - generated)
            )
            generated = total
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                answer = http.get(breakdown, params={**window, "group_by": "os"}).json()
                if answer["totals"]["clicks"] != stored:
                    raise SystemExit(f"breakdown counts {answer['totals']} but {stored} stored")
                results[total] = {
                    name: _time(http, path, params) for name, (path, params) in queries.items()
                }
            print(f"[{label}] {stored:,} clicks stored, and counted by the breakdown")
    for name in queries:
        small, big = results[SMALL][name], results[LARGE][name]
        print(
            f"[{label}] {name:24s} median {small[0]:6.2f} → {big[0]:6.2f} ms, "
            f"p95 {small[1]:6.2f} → {big[1]:6.2f} ms"
        )
        sizes = f"{LARGE:,} / {SMALL:,}"
        print(f"RATIO [{label}] {name} {sizes} (median)  {big[0] / small[0]:.3f} (≤ 1.5)")


def main() -> None:
    if os.environ.get("BENCH_SKIP_SQLITE") != "1":
        with tempfile.TemporaryDirectory(prefix="bench-breakdown-") as tmp:
            data = Path(tmp)
            run(referkit_env(data), f"sqlite+aiosqlite:///{data / 'referkit.db'}", "sqlite")
    pg = os.environ.get("BENCH_PG_URL")
    if pg:
        with postgres(pg) as url, tempfile.TemporaryDirectory(prefix="bench-breakdown-") as tmp:
            run(referkit_env(Path(tmp), database_url=url), url, "postgresql")


if __name__ == "__main__":
    main()
