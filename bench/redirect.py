"""Redirect throughput: Referkit's /r/{code} (click committed before each 302) against a bare
ASGI 302 app and against itself with recording turned off; p99 latency at 4 connections.
Runs on SQLite and, when ``BENCH_PG_URL`` names a PostgreSQL server, on a throwaway database.

    .venv/bin/python -m bench.redirect
    BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.redirect

The per-IP redirect limit is turned off (one load generator is one IP); every other setting
is the default.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import (
    REPETITIONS,
    WrkResult,
    cli,
    measure,
    postgres,
    referkit_env,
    seed,
    server,
)
from referkit.models import Click

CONNECTIONS = 32
APP = ["referkit.app:create_app", "--factory"]


async def _count(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(Click)) or 0)
    finally:
        await engine.dispose()


def stored_clicks(env: dict[str, str]) -> int:
    default = f"sqlite+aiosqlite:///{env['REFERKIT_DATA_DIR']}/referkit.db"
    return asyncio.run(_count(env.get("REFERKIT_DATABASE_URL") or default))


def floor(label: str, url: str, bare: WrkResult) -> None:
    """The bare app committing one minimal row per 302 (``bench/floor_app.py``)."""
    with server(["bench.floor_app:app"], {**os.environ, "BENCH_FLOOR_URL": url}) as base:
        result = measure(f"{base}/r/x", CONNECTIONS)
        result4 = measure(f"{base}/r/x", 4)
    print(f"[{label}] floor: bare 302 + one committed row {result.rps:8.0f} req/s")
    print(f"FLOOR [{label}] durable bare / bare          {result.rps / bare.rps:.3f}")
    print(f"FLOOR [{label}] p99 at 4 connections         {result4.p99_ms:.2f} ms")


def run(label: str, env: dict[str, str], bare: WrkResult, floor_url: str) -> None:
    floor(label, floor_url, bare)
    cli(env, "db", "upgrade")
    with server(APP, env) as base:
        rows = seed(base, env)
        path = f"/r/{rows['code']}"
        recorded = measure(base + path, CONNECTIONS)
        recorded4 = measure(base + path, 4)
    acknowledged = stored_clicks(env)
    with server(APP, {**env, "REFERKIT_CLICK_RECORDING": "false"}) as base:
        unrecorded = measure(base + path, CONNECTIONS)
    for name, result in (
        ("recording", recorded),
        ("recording c=4", recorded4),
        ("not recording", unrecorded),
    ):
        print(f"[{label}] redirect, {name:14} {result.rps:8.0f} req/s  p99 {result.p99_ms:.2f} ms")
    print(f"[{label}] clicks stored: {acknowledged}; non-3xx answers: {recorded.non_2xx_3xx}")
    if recorded.non_2xx_3xx or unrecorded.non_2xx_3xx:
        raise SystemExit("some redirects were not 302s: the figures would not mean anything")
    print(f"RATIO [{label}] redirect / bare ASGI        {recorded.rps / bare.rps:.3f} (≥ 0.45)")
    print(
        f"RATIO [{label}] recording / not recording   {recorded.rps / unrecorded.rps:.3f} (≥ 0.85)"
    )
    print(f"[{label}] p99 at 4 connections              {recorded4.p99_ms:.2f} ms (≤ 5)")


def main() -> None:
    with server(["bench.bare_app:app"]) as base:
        bare = measure(f"{base}/r/x", CONNECTIONS)
        bare4 = measure(f"{base}/r/x", 4)
    print(f"repetitions: {REPETITIONS} (medians), connections: {CONNECTIONS} and 4")
    print(f"bare ASGI 302            {bare.rps:8.0f} req/s  p99 {bare.p99_ms:.2f} ms (c=32)")
    print(f"bare ASGI 302 (c=4)      {bare4.rps:8.0f} req/s  p99 {bare4.p99_ms:.2f} ms")
    with tempfile.TemporaryDirectory(prefix="bench-redirect-") as tmp:
        run("sqlite", referkit_env(Path(tmp)), bare, f"sqlite:///{tmp}/floor.db")
    pg = os.environ.get("BENCH_PG_URL")
    if pg:
        with postgres(pg) as url, tempfile.TemporaryDirectory(prefix="bench-redirect-") as tmp:
            floor_url = url.replace("+asyncpg", "")
            run("postgresql", referkit_env(Path(tmp), database_url=url), bare, floor_url)


if __name__ == "__main__":
    main()
