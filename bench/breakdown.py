"""Breakdown read time at 100,000 and at 1,000,000 clicks: the ratio shows reads grow with
days * groups, not with the clicks behind them.

The clicks are loaded here, straight into the database, with a progress bar (``Loader``):
clicks on LINKS member links over DAYS days (BOTS of them from bots), from a spread of
countries, devices, browsers, referrers and campaigns, with the counter and dimension rollups
the click batchers would write for them, counted by the batchers' own functions and written
with their statements, in bulk. Then ``GET /programs/{id}/breakdown`` and
``GET /links/{id}/stats`` are timed through HTTP, and their totals checked against a count of
the human clicks in the clicks table.

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
from referkit.db.partitions import ensure_months
from referkit.kit.ids import new_ids
from referkit.link.clicks import CLICKS, ClickJob, _decide, reach_key
from referkit.models import Click, Rollup
from referkit.stats.dimensions import DIMENSION_UPSERT, DimensionBuffer, click_deltas
from referkit.stats.rollups import UPSERT, RollupBuffer

LINKS = 20
DAYS = 90
CHUNK = 50_000
VISITORS = 200_000
BOTS = 0.02
"""The share of bot clicks: stored, never counted in a breakdown."""
VACUUM = os.environ.get("BENCH_VACUUM", "1") == "1"
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


def _links(base: str, secret: str, program_id: str) -> list[tuple[str, str]]:
    """The program's member links: (link id, member id)."""
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for i in range(LINKS - 1):
            http.post(
                f"/api/v1/programs/{program_id}/members", json={"email": f"m{i}@example.com"}
            ).raise_for_status()
        links = http.get("/api/v1/links", params={"program_id": program_id, "limit": 100})
        return [(link["id"], link["member_id"]) for link in links.json()["data"]]


class Loader:
    """The bulk seeding path: clicks generated in chunks, their ``is_unique`` and counter
    rollups decided by ``_decide`` and their dimension rollups counted by ``click_deltas`` (the
    click batchers' own functions), merged in memory over the whole load, then written with
    the batchers' multi-row statements: the click rows by chunk (``COPY`` on PostgreSQL,
    ``executemany`` on SQLite), each rollup row once per load (``UPSERT`` and
    ``DIMENSION_UPSERT``, sorted by key as the batchers write them).

    Reach is decided as a batcher decides it against the reach marks table, from the keys of
    earlier chunks kept here (no ``reach_marks`` rows are written: the product purges them
    after the hour anyway, and no read uses them)."""

    def __init__(self, workspace_id: str, program_id: str, links: list[tuple[str, str]]) -> None:
        self.workspace_id = workspace_id
        self.program_id = program_id
        self.links = links
        self.marks: set[str] = set()

    def chunk(self, rng: random.Random, size: int) -> list[ClickJob]:
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        jobs = []
        for click_id in new_ids("clk", size):
            link_id, member_id = rng.choice(self.links)
            # Within one of the last DAYS days, before now.
            at = midnight - timedelta(days=rng.randrange(DAYS), minutes=-rng.randrange(1440))
            at = min(at, datetime.now(UTC))
            visitor = f"v{rng.randrange(VISITORS)}"
            bot = rng.random() < BOTS
            row = {
                "id": click_id,
                "workspace_id": self.workspace_id,
                "livemode": True,
                "link_id": link_id,
                "program_id": self.program_id,
                "member_id": member_id,
                "code": "bench",
                "visitor_id": None,
                "visitor_hash": visitor,
                "platform": "web",
                "is_bot": bot,
                "is_orphan": False,
                "is_unique": False,
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
            jobs.append(ClickJob(row, None if bot else reach_key(visitor, link_id, at)))
        return jobs

    async def load(self, engine: AsyncEngine, n: int) -> None:
        """Add ``n`` clicks and their rollups."""
        rng = random.Random(n)
        rollups = RollupBuffer()
        dimensions = DimensionBuffer()
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            async with engine.begin() as conn:  # the months of the clicks, as time would
                today = datetime.now(UTC)
                await ensure_months(conn, "clicks", today - timedelta(days=DAYS), today)
        with Progress() as progress:
            task = progress.add_task(f"loading {n:,} clicks", total=n)
            done = 0
            while done < n:
                jobs = self.chunk(rng, min(CHUNK, n - done))
                fresh = {job.reach_key for job in jobs if job.reach_key is not None}
                fresh -= self.marks
                self.marks |= fresh
                rows, counters = _decide(jobs, fresh)
                rollups.merge(counters)
                dimensions.merge(click_deltas(rows))
                async with engine.begin() as conn:
                    if postgres:
                        raw = await conn.get_raw_connection()
                        driver: Any = raw.driver_connection
                        await driver.copy_records_to_table(
                            "clicks",
                            records=list(zip(*CLICKS.pg_arrays(rows), strict=True)),
                            columns=CLICKS.columns,
                        )
                    else:
                        await CLICKS.insert(conn, rows)
                done += len(rows)
                progress.update(task, advance=len(rows))
        async with engine.begin() as conn:
            for upsert, buffer in ((UPSERT, rollups), (DIMENSION_UPSERT, dimensions)):
                rows = buffer.sorted_rows()
                for start in range(0, len(rows), CHUNK):
                    await upsert.insert(conn, rows[start : start + CHUNK])


async def _generate(url: str, loader: Loader, n: int) -> int:
    """Load ``n`` more clicks; answer how many human clicks the table holds now (after checking
    that the program's counter rollups count them, and the bots apart)."""
    # One event loop for the engine's whole life: asyncpg connections belong to their loop.
    engine = create_async_engine(url)
    try:
        await loader.load(engine, n)
        if engine.dialect.name == "postgresql":
            # Settle the bulk load before timing reads (see bench/stats.py). The second load
            # updates every rollup row the first wrote, once: at the default fillfactor hardly
            # any of those updates is HOT, so until a vacuum the key range a read scans also
            # points at a dead version of each row, on another page (the read by referrer hit
            # 6,104 buffers instead of 86, 1.8 ms instead of 1.2 in SQL). Autovacuum takes
            # such a table up within a minute (its threshold is a fifth of the rows), in the
            # middle of the timing; VACUUM does it before. BENCH_VACUUM=0: the table as loaded.
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("CHECKPOINT"))
                await conn.execute(text("VACUUM ANALYZE" if VACUUM else "ANALYZE"))
        async with engine.connect() as conn:
            by_kind = select(Click.is_bot, func.count()).group_by(Click.is_bot)
            stored: dict[bool, int] = dict((await conn.execute(by_kind)).all())
            counted = (
                await conn.execute(
                    select(func.sum(Rollup.clicks), func.sum(Rollup.bot_clicks)).where(
                        Rollup.scope == "program"
                    )
                )
            ).one()
            if tuple(counted) != (stored.get(False, 0), stored.get(True, 0)):
                raise SystemExit(f"rollups count {tuple(counted)} but {stored} stored")
            return int(stored.get(False, 0))
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
        link = f"/api/v1/links/{links[0][0]}/stats"
        loader = Loader(workspace_id, rows["program_id"], links)
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
            stored = asyncio.run(_generate(url, loader, total - generated))
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
