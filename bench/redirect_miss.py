"""The redirect's link lookup on a link-cache miss: ``redirect_target`` (the code's workspace
from ``codes``, then the link in it) against the lookup before ``codes`` existed (the link by
its code alone, through a unique index on ``links.code_key`` made here for the comparison),
over 20,000 links in 100 workspaces. Runs on SQLite and, when ``BENCH_PG_URL`` names a
PostgreSQL server, on a throwaway database.

    .venv/bin/python -m bench.redirect_miss
    BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.redirect_miss
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.common import postgres
from referkit.db import migrate
from referkit.link.repository import REDIRECT_COLUMNS, redirect_target, with_program_and_app
from referkit.models import Code, Link, Workspace

LINKS, WORKSPACES, LOOKUPS, ROUNDS = 20_000, 100, 5_000, 5


def _by_code_alone(code_key: str) -> Select[Any]:
    """The lookup before the ``codes`` table: one statement, the link found by code alone."""
    stmt = select(*REDIRECT_COLUMNS).select_from(Link)
    return with_program_and_app(stmt).where(Link.code_key == code_key)


async def _seed(conn: AsyncConnection) -> None:
    now = datetime.now(UTC)
    workspaces = [{"id": f"ws_{n}", "name": f"bench {n}"} for n in range(WORKSPACES)]
    await conn.execute(insert(Workspace), workspaces)
    for start in range(0, LINKS, 1000):
        links = [
            {
                "id": f"lnk_{n}",
                "workspace_id": f"ws_{n % WORKSPACES}",
                "livemode": True,
                "code": f"c{n}",
                "code_key": f"c{n}",
                "is_default": False,
                "destination_url": "https://example.com/",
                "utm": {},
                "created_at": now,
                "updated_at": now,
            }
            for n in range(start, start + 1000)
        ]
        await conn.execute(insert(Link), links)
        codes = [
            {
                "code_key": link["code_key"],
                "workspace_id": link["workspace_id"],
                "livemode": True,
                "kind": "link",
                "owner_id": link["id"],
                "created_at": now,
            }
            for link in links
        ]
        await conn.execute(insert(Code), codes)
    await conn.execute(text("CREATE UNIQUE INDEX bench_old_code_key ON links (code_key)"))


async def measure(url: str) -> None:
    await migrate.upgrade(url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await _seed(conn)
        async with engine.connect() as conn:
            await conn.execute(
                text("COMMIT" if engine.dialect.name == "postgresql" else "SELECT 1")
            )
            await conn.execute(text("ANALYZE"))
        rng = random.Random(7)
        keys = [f"c{rng.randrange(LINKS)}" for _ in range(LOOKUPS)]
        times: dict[str, list[float]] = {"by code alone": [], "codes, then link": []}
        for _ in range(ROUNDS):
            for name in times:
                async with engine.connect() as conn:
                    started = time.perf_counter()
                    for key in keys:
                        if name == "by code alone":
                            assert (await conn.execute(_by_code_alone(key))).first() is not None
                        else:
                            assert await redirect_target(conn, key) is not None
                    times[name].append((time.perf_counter() - started) / LOOKUPS * 1e6)
        label = engine.dialect.name
        for name, values in times.items():
            print(f"[{label}] {name:18} median {statistics.median(values):6.0f} µs per miss")
        ratio = statistics.median(times["codes, then link"]) / statistics.median(
            times["by code alone"]
        )
        print(f"RATIO [{label}] codes, then link / by code alone   {ratio:.2f}")
    finally:
        await engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-miss-") as tmp:
        asyncio.run(measure(f"sqlite+aiosqlite:///{tmp}/miss.db"))
    pg = os.environ.get("BENCH_PG_URL")
    if pg:
        with postgres(pg) as url:
            asyncio.run(measure(url))


if __name__ == "__main__":
    main()
