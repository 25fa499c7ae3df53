"""Shared benchmark plumbing: servers pinned to one core, wrk pinned to another, medians.

Loopback only; every run is bounded (``DURATION`` seconds per repetition). The server runs
under ``taskset -c SERVER_CPU`` and the load generator under ``taskset -c LOAD_CPU``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
LOAD_CPU = os.environ.get("BENCH_LOAD_CPU", "1")
DURATION = int(os.environ.get("BENCH_SECONDS", "5"))
# How long a server may take to start (a machine shared with other work starts Python slowly).
START_SECONDS = int(os.environ.get("BENCH_START_SECONDS", "120"))
WARMUP = 2
REPETITIONS = 3
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
# The same uvicorn flags for the baseline and for Referkit.
UVICORN_FLAGS = ["--no-access-log", "--no-proxy-headers", "--log-level", "warning"]


def free_port() -> int:
    """A free local port; within ``BENCH_PORTS`` (``first-last``) when that is set, so runs
    on a shared machine stay on the ports they were given."""
    first, _, last = os.environ.get("BENCH_PORTS", "").partition("-")
    candidates = range(int(first), int(last or first) + 1) if first else [0]
    for candidate in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port: int = sock.getsockname()[1]
            return port
    raise RuntimeError(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def referkit_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("REFERKIT_")}
    env["REFERKIT_DATA_DIR"] = str(data_dir)
    # One load generator on one IP would otherwise hit the per-IP redirect limit at once.
    env["REFERKIT_REDIRECT_RATE_LIMIT"] = "0"
    env.update({f"REFERKIT_{k.upper()}": v for k, v in settings.items()})
    return env


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "referkit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@contextmanager
def server(target: list[str], env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``uvicorn TARGET`` pinned to SERVER_CPU; yield its base URL."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [
            "taskset",
            "-c",
            SERVER_CPU,
            sys.executable,
            "-m",
            "uvicorn",
            *target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *UVICORN_FLAGS,
        ],
        env=env or dict(os.environ),
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(Path(log.name).read_text()) from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx_3xx: int


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"unreadable wrk latency {text!r}")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(url: str, connections: int, seconds: int, script: str | None = None) -> WrkResult:
    command = [
        "taskset",
        "-c",
        LOAD_CPU,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"User-Agent: {BROWSER}",
    ]
    if script:
        command += ["-s", script]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    if "99%" not in out:
        raise RuntimeError(f"wrk gave no latency distribution:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Percentiles come from the distribution table (the thread-stats lines hold % too).
    table = out.split("Latency Distribution", 1)[-1]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", table).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", table).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return WrkResult(rps, p50, p99, int(bad.group(1)) if bad else 0)


def measure(url: str, connections: int, script: str | None = None) -> WrkResult:
    """Warm-up, then REPETITIONS runs; the median of each figure."""
    wrk(url, connections, WARMUP, script)
    runs = [wrk(url, connections, DURATION, script) for _ in range(REPETITIONS)]
    return WrkResult(
        statistics.median(r.rps for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.non_2xx_3xx for r in runs),
    )


def in_turns(targets: dict[str, tuple[str, str | None]], connections: int) -> dict[str, WrkResult]:
    """A warm-up of each target (URL, wrk script), then ``REPETITIONS`` rounds of one run of
    each; the median of each figure. Targets take turns, so a change in the shared machine's
    load falls on all of them alike."""
    for url, script in targets.values():
        wrk(url, connections, WARMUP, script)
    runs: dict[str, list[WrkResult]] = {name: [] for name in targets}
    for _ in range(REPETITIONS):
        for name, (url, script) in targets.items():
            runs[name].append(wrk(url, connections, DURATION, script))
    return {
        name: WrkResult(
            statistics.median(r.rps for r in results),
            statistics.median(r.p50_ms for r in results),
            statistics.median(r.p99_ms for r in results),
            sum(r.non_2xx_3xx for r in results),
        )
        for name, results in runs.items()
    }


def seed(base: str, env: dict[str, str]) -> dict[str, str]:
    """A full key without a practical rate limit, a program and a member (with its link)."""
    key = json.loads(cli(env, "keys", "create", "--scope", "full", "--json"))
    headers = {"Authorization": f"Bearer {key['secret']}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        response = http.post(
            "/api/v1/keys",
            json={"name": "bench", "scope": "full", "rate_limit_per_minute": 1_000_000},
        )
        assert response.status_code == 201, response.text
        loader = response.json()
        program = http.post(
            "/api/v1/programs", json={"name": "Bench", "landing_url": "https://example.com/"}
        ).json()
        member = http.post(
            f"/api/v1/programs/{program['id']}/members", json={"email": "bench@example.com"}
        ).json()
    return {
        "secret": loader["secret"],
        "program_id": program["id"],
        "member_id": member["id"],
        "code": member["referral_code"],
    }


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def postgres(url: str) -> Iterator[str]:
    """A throwaway database on the server of ``url`` (dropped afterwards)."""
    name = f"referkit_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(url, f'CREATE DATABASE "{name}"'))
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
