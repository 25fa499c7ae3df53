"""Real processes for tests: the ``referkit`` command, a served app, throwaway PostgreSQL databases.

Subprocesses get an environment built here, never the caller's: only ``REFERKIT_TEST_*`` (which
settings ignore) may be inherited, so a developer's ``REFERKIT_DATABASE_URL`` can never point a
test at a real database. Server output goes to files (a pipe nobody drains would block the
server once its buffer fills).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

PG_URL = os.environ.get("REFERKIT_TEST_DATABASE_URL")
CLI_TIMEOUT = 60
SERVER_START_TIMEOUT = 90  # generous: a loaded CI machine starts Python slowly


def cli_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """An environment for the CLI: the data dir, the given ``REFERKIT_*`` settings, nothing else."""
    env = {
        name: value
        for name, value in os.environ.items()
        # Settings read names case-insensitively, so filter the same way.
        if not name.upper().startswith("REFERKIT_") or name.upper().startswith("REFERKIT_TEST_")
    }
    env["REFERKIT_DATA_DIR"] = str(data_dir)
    env.update({f"REFERKIT_{name.upper()}": value for name, value in settings.items()})
    # A wide, plain terminal: rich must not wrap or colour what the tests read.
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1"})
    return env


def run_cli(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``python -m referkit ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "referkit", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def worker_index() -> int:
    """0 outside pytest-xdist, else the worker's number (``gw3`` -> 3)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") else 0


def worker_port(base: int) -> int:
    """A fixed port for one worker: ``base`` moved by 50 per xdist worker, so workers never meet."""
    return base + 50 * worker_index()


def free_port(ports_variable: str = "REFERKIT_TEST_PORTS") -> int:
    """A free local port: within the range ``first-last`` that ``ports_variable`` names when it
    is set (machines shared by several people give each a range), else any."""
    first, _, last = os.environ.get(ports_variable, "").partition("-")
    candidates = range(int(first), int(last or first) + 1) if first else [0]
    for candidate in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port: int = sock.getsockname()[1]
            return port
    raise RuntimeError(f"no free port in {ports_variable}={os.environ[ports_variable]}")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then wait: a server that ignores it fails the test (and is killed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("the server did not exit on SIGTERM") from None
        return self.process.returncode

    def assert_stopped_cleanly(self) -> None:
        """Stopped by our SIGTERM after a full shutdown (lifespan cleanup ran).

        uvicorn re-raises the signal it caught once shutdown is complete, so the exit status is
        "killed by SIGTERM" rather than 0; the log shows the shutdown was orderly.
        """
        assert self.process.returncode == -signal.SIGTERM, self.stderr
        assert "Application shutdown complete" in self.stderr


@contextmanager
def serve(
    env: Mapping[str, str], log_dir: Path, *args: str, port: int | None = None
) -> Iterator[Server]:
    """Start ``referkit serve`` on a free port and wait until /readyz answers 200."""
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex[:8]
    stdout_path, stderr_path = log_dir / f"serve-{name}.out", log_dir / f"serve-{name}.err"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "referkit", "serve", "--port", str(port), *args],
            env=dict(env),
            stdout=out,
            stderr=err,
        )
    server = Server(process, f"http://127.0.0.1:{port}", stdout_path, stderr_path)
    try:
        _wait_ready(server)
        yield server
    finally:
        server.stop()


@contextmanager
def worker(env: Mapping[str, str], log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``referkit worker`` until the block ends (SIGTERM: it finishes its batch and exits)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "referkit", "worker"],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise AssertionError(
                    f"the worker did not exit on SIGTERM:\n{log.read_text()}"
                ) from None


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"serve exited with {server.process.returncode}:\n{server.stdout}\n{server.stderr}"
            )
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"serve not ready in {SERVER_START_TIMEOUT}s:\n{server.stderr}")


async def _admin(server_url: str, statement: str) -> None:
    url = make_url(server_url).set(database="postgres")
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``; dropped afterwards.

    Synchronous (it runs its own event loop), so session fixtures and sync tests can use it.
    """
    name = f"referkit_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: a server process that was killed may still hold a connection.
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
