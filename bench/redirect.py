"""Redirect throughput: Referkit's /r/{code} (click committed before each 302) against a bare
ASGI 302 app and against itself with recording turned off; p99 latency at 4 connections.

    .venv/bin/python -m bench.redirect            (SQLite in a temporary data dir)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import create_engine, func, select

from bench.common import REPETITIONS, cli, measure, referkit_env, seed, server
from referkit.models import Click

CONNECTIONS = 32


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-redirect-") as tmp:
        data = Path(tmp)
        env = referkit_env(data)
        cli(env, "db", "upgrade")
        with server(["bench.bare_app:app"]) as base:
            bare = measure(f"{base}/r/x", CONNECTIONS)
            bare4 = measure(f"{base}/r/x", 4)
        app = ["referkit.app:create_app", "--factory"]
        with server(app, env) as base:
            rows = seed(base, env)
            url = f"{base}/r/{rows['code']}"
            recorded = measure(url, CONNECTIONS)
            recorded4 = measure(url, 4)
        with server(app, referkit_env(data, click_recording="false")) as base:
            unrecorded = measure(url.replace(url.split("/r/")[0], base), CONNECTIONS)
        engine = create_engine(f"sqlite:///{data / 'referkit.db'}")
        with engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(Click))
        engine.dispose()
    print(f"repetitions: {REPETITIONS} (medians), connections: {CONNECTIONS} and 4")
    print(f"bare ASGI 302            {bare.rps:10.0f} req/s  p99 {bare.p99_ms:.2f} ms (c=32)")
    print(f"bare ASGI 302 (c=4)      {bare4.rps:10.0f} req/s  p99 {bare4.p99_ms:.2f} ms")
    print(f"redirect, recording      {recorded.rps:10.0f} req/s  p99 {recorded.p99_ms:.2f} ms")
    print(f"redirect, recording c=4  {recorded4.rps:10.0f} req/s  p99 {recorded4.p99_ms:.2f} ms")
    print(f"redirect, not recording  {unrecorded.rps:10.0f} req/s  p99 {unrecorded.p99_ms:.2f} ms")
    print(f"clicks stored: {stored}; non-3xx answers: {recorded.non_2xx_3xx}")
    print(
        f"RATIO redirect / bare ASGI                 {recorded.rps / bare.rps:.3f} (target ≥ 0.45)"
    )
    print(
        f"RATIO recording / not recording            {recorded.rps / unrecorded.rps:.3f} "
        "(target ≥ 0.85)"
    )
    print(f"p99 at 4 connections                       {recorded4.p99_ms:.2f} ms (target ≤ 5)")


if __name__ == "__main__":
    main()
