"""Rate limiter overhead: API throughput with the limiter (memory, then Redis) ÷ without it.

Every configuration runs the same `referkit serve` (one process, pinned to core 0) over the same
SQLite database and is loaded by wrk (pinned to core 1) on an authenticated read,
`GET /api/v1/programs/{id}`. Each configuration gets a warm-up, then three timed runs; the
median requests/second is compared with the limiter-off median measured in the same run.

    .venv/bin/python bench/ratelimit_overhead.py [--seconds 8] [--connections 16]

Needs wrk (`apt-get install wrk`) and, for the Redis row, a Redis on 127.0.0.1:6379.
Traffic goes to 127.0.0.1 only and every run is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REDIS_URL = "redis://127.0.0.1:6379/0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("REFERKIT_")}
    env["REFERKIT_DATA_DIR"] = str(data_dir)
    env.update({f"REFERKIT_{k.upper()}": v for k, v in settings.items()})
    return env


@contextmanager
def _server(env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            sys.executable,
            "-m",
            "referkit",
            "serve",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def _wrk(url: str, secret: str, seconds: int, connections: int) -> float:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "-H",
            f"Authorization: Bearer {secret}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{non_2xx.group(1)} failed responses:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def _measure(env: dict[str, str], secret: str, program: str, seconds: int, conns: int) -> float:
    with _server(env) as base:
        url = f"{base}/api/v1/programs/{program}"
        _wrk(url, secret, 3, conns)  # warm-up
        runs = [_wrk(url, secret, seconds, conns) for _ in range(3)]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    data_dir = Path(tempfile.mkdtemp(prefix="referkit-bench-"))
    base_env = _env(data_dir)
    created = subprocess.run(
        [sys.executable, "-m", "referkit", "keys", "create", "--workspace", "Bench", "--json"],
        env=base_env,
        capture_output=True,
        text=True,
        check=True,
    )
    owner = json.loads(created.stdout)["secret"]
    with _server(base_env) as base:
        auth = {"Authorization": f"Bearer {owner}"}
        program = httpx.post(
            f"{base}/api/v1/programs",
            headers=auth,
            json={"name": "Bench", "landing_url": "https://example.com/"},
        ).json()["id"]
        # A limit high enough never to refuse: we measure the cost of counting, not of 429s.
        secret = httpx.post(
            f"{base}/api/v1/keys",
            headers=auth,
            json={
                "name": "bench",
                "scope": "read_only",
                "rate_limit_per_minute": 1_000_000,
            },
        ).json()["secret"]
    configs = {
        "off": _env(data_dir, rate_limit_enabled="false"),
        "memory": _env(data_dir, rate_limit_enabled="true"),
        "redis": _env(
            data_dir,
            rate_limit_enabled="true",
            redis_url=REDIS_URL,
            redis_prefix=f"bench-{os.getpid()}",
        ),
    }
    results = {
        name: _measure(env, secret, program, args.seconds, args.connections)
        for name, env in configs.items()
    }
    baseline = results["off"]
    print(f"{'limiter':<8} {'req/s (median of 3)':>20} {'ratio vs off':>14}")
    for name, rps in results.items():
        print(f"{name:<8} {rps:>20.0f} {rps / baseline:>14.2f}")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
