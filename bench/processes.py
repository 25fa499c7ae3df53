"""Scale-out on one machine: redirects and single-event intake with 1 and 2 API processes
(``referkit serve --workers N``) on PostgreSQL, and where the CPU went.

The baseline is the 1-process figure measured in the same run; the result is the ratio
2 processes / 1 process. The API processes are not pinned (they may use every core), wrk is
pinned to ``BENCH_LOAD_CPU``; CPU seconds are read from ``/proc`` for the API processes, wrk
and every PostgreSQL (and PgBouncer) process during each measurement, so the answer says what
the run was limited by. With ``BENCH_PGBOUNCER=1`` the API processes reach PostgreSQL through
a PgBouncer in transaction pooling mode (``tests/pgbouncer.py``).

    BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.processes
"""

from __future__ import annotations

import asyncio
import os
import pwd
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench.common import (
    DURATION,
    REPETITIONS,
    WARMUP,
    WrkResult,
    free_port,
    postgres,
    referkit_env,
    seed,
    wrk,
)

LUA = str(Path(__file__).with_name("event.lua"))
CONNECTIONS = 32
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one process and of its children it has reaped (0 if it is gone):
    PostgreSQL's postmaster reaps every backend that ends, so nothing is lost when connections
    come and go during a measurement."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / TICKS


def _pids_of(user: str) -> list[int]:
    uid = pwd.getpwnam(user).pw_uid
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                pids.append(int(entry.name))
        except OSError:
            continue  # ended while we looked
    return pids


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's supervisor and its workers)."""
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        children = Path(f"/proc/{parent}/task/{parent}/children")
        try:
            kids = [int(c) for c in children.read_text().split()]
        except OSError:
            kids = []
        found += kids
        frontier += kids
    return found


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (every process, ours or not)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / TICKS


class CpuMeter:
    """CPU seconds spent by the API processes, by PostgreSQL (every database on the server,
    ours and anyone else's) and by the whole machine over a block."""

    def __init__(self, api_pid: int) -> None:
        self.api_pid = api_pid

    def sample(self) -> tuple[float, float, float]:
        api = sum(_cpu_seconds(p) for p in _tree(self.api_pid))
        database = sum(_cpu_seconds(p) for p in _pids_of("postgres"))
        return api, database, _machine_busy()


@contextmanager
def api_processes(env: dict[str, str], workers: int) -> Iterator[tuple[str, int]]:
    """``referkit serve --workers N`` on a free port; yields its URL and the supervisor pid."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-procs-", suffix=".log", delete=False)  # noqa: SIM115
    command = ["serve", "--port", str(port), "--workers", str(workers), "--no-access-log"]
    process = subprocess.Popen(
        [sys.executable, "-m", "referkit", *command],
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(Path(log.name).read_text())
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Figure:
    result: WrkResult
    api: float  # cores (CPU seconds per wall second) used by the API processes
    database: float  # … by PostgreSQL (and PgBouncer, which runs as the same user)
    machine: float  # … by the whole machine, wrk and everybody else included


def measured(url: str, meter: CpuMeter, script: str | None) -> Figure:
    """Warm-up, then REPETITIONS runs: the median rate, and the cores used meanwhile."""
    wrk(url, CONNECTIONS, WARMUP, script)
    before = meter.sample()
    started = time.monotonic()
    runs = [wrk(url, CONNECTIONS, DURATION, script) for _ in range(REPETITIONS)]
    wall = time.monotonic() - started
    after = meter.sample()
    runs.sort(key=lambda r: r.rps)
    api, database, machine = ((a - b) / wall for a, b in zip(after, before, strict=True))
    return Figure(runs[len(runs) // 2], api, database, machine)


async def _bytes_per_row(url: str, table: str) -> tuple[int, float]:
    """Rows in ``table`` and its size on disk (with indexes and TOAST) per row."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            count = text(f"SELECT count(*) FROM {table}")  # noqa: S608 (our own table names)
            rows = int(await conn.scalar(count) or 0)
            size = int(await conn.scalar(text(f"SELECT pg_total_relation_size('{table}')")) or 0)
    finally:
        await engine.dispose()
    return rows, size / max(rows, 1)


def run(env: dict[str, str], direct_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "referkit", "db", "upgrade"], env=env, check=True, timeout=300
    )
    figures: dict[tuple[str, int], Figure] = {}
    for workers in (1, 2):
        with api_processes(env, workers) as (base, pid):
            rows = seed(base, env)
            os.environ["BENCH_SECRET"] = rows["secret"]
            meter = CpuMeter(pid)
            figures["redirect", workers] = measured(f"{base}/r/{rows['code']}", meter, None)
            figures["event", workers] = measured(f"{base}/api/v1/events", meter, LUA)
    for path in ("redirect", "event"):
        for workers in (1, 2):
            figure = figures[path, workers]
            print(
                f"{path:9} {workers} process(es) {figure.result.rps:8.0f} req/s"
                f"  p99 {figure.result.p99_ms:6.1f} ms  cores used: API {figure.api:4.2f},"
                f" PostgreSQL {figure.database:4.2f}, whole machine {figure.machine:4.2f}"
                f"  non-2xx/3xx {figure.result.non_2xx_3xx}"
            )
        ratio = figures[path, 2].result.rps / figures[path, 1].result.rps
        print(f"RATIO {path}: 2 processes / 1 process  {ratio:.2f}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    for table in ("events", "clicks"):
        rows, per_row = asyncio.run(_bytes_per_row(direct_url, table))
        print(f"{table}: {rows} rows, {per_row:.0f} bytes each on disk with their indexes")


def main() -> None:
    pg = os.environ.get("BENCH_PG_URL")
    if not pg:
        raise SystemExit("set BENCH_PG_URL to a PostgreSQL server (a throwaway database is used)")
    print(f"cores: {os.cpu_count()}; wrk on core {os.environ.get('BENCH_LOAD_CPU', '1')}")
    with ExitStack() as stack:
        url = stack.enter_context(postgres(pg))
        settings = {"database_url": url, "worker_in_process": "false", "log_level": "warning"}
        if os.environ.get("BENCH_PGBOUNCER"):
            from tests.pgbouncer import pgbouncer

            settings["database_url"] = stack.enter_context(pgbouncer(url, pool_size=20))
            settings["database_pgbouncer"] = "true"
            print("through PgBouncer (transaction pooling)")
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-procs-"))
        run(referkit_env(Path(tmp), **settings), url)


if __name__ == "__main__":
    main()
