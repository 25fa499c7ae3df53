"""Read replica routing (``REFERKIT_DATABASE_REPLICA_URL``, ``referkit.db.replica``) against a
real streaming replica: a PostgreSQL primary initdb'd here (port 5442, ``wal_level=replica``,
replication allowed from loopback) and a replica made from it with ``pg_basebackup -R``
(port 5441). Stats and lists read from the replica; a client's reads after its own write see
that write; a lagging or unreachable replica leaves the reads on the primary.

Needs the PostgreSQL server binaries (``initdb``, ``pg_ctl``, ``pg_basebackup``); skipped
without them. As root, the servers run as the ``postgres`` user. The scratch directory is
``REFERKIT_TEST_PG_SCRATCH`` (default: the system temp directory).
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from referkit.app import create_app
from referkit.config import Settings
from referkit.db import migrate
from tests.factories import Key, create_member, create_program, new_key

PRIMARY_PORT = 5442
REPLICA_PORT = 5441
NOTHING_LISTENS = 8529  # in this suite's port range: a replica that is down


def _bindir() -> Path | None:
    configured = os.environ.get("REFERKIT_TEST_PG_BINDIR")
    candidates = [configured] if configured else sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    for candidate in reversed(candidates):
        if candidate and (Path(candidate) / "pg_basebackup").exists():
            return Path(candidate)
    return None


BINDIR = _bindir()
pytestmark = pytest.mark.skipif(BINDIR is None, reason="PostgreSQL server binaries not found")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class Pair:
    primary_url: str
    replica_url: str
    replica_log: Path | None = None

    def replica_statements(self) -> str:
        """What the replica has run so far (it logs every statement)."""
        assert self.replica_log is not None
        return self.replica_log.read_text(errors="replace")


class Servers:
    """initdb / pg_ctl / pg_basebackup, as ``postgres`` when we are root."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            owner = pwd.getpwnam("postgres")
            os.chown(base, owner.pw_uid, owner.pw_gid)

    def run(self, tool: str, *args: str) -> None:
        assert BINDIR is not None
        command = [*self.as_user, str(BINDIR / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{tool}: {done.stdout}\n{done.stderr}"

    def start(self, name: str, port: int, *settings: str) -> None:
        options = " ".join([f"-p {port} -c listen_addresses=127.0.0.1 -k {self.base}", *settings])
        log = str(self.base / f"{name}.log")
        self.run("pg_ctl", "-D", str(self.base / name), "-l", log, "-o", options, "-w", "start")

    def stop(self, name: str) -> None:
        if (self.base / name / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.base / name), "-m", "immediate", "-w", "stop")


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    if not (_port_free(PRIMARY_PORT) and _port_free(REPLICA_PORT)):
        pytest.skip(f"ports {PRIMARY_PORT}/{REPLICA_PORT} are taken")
    scratch = os.environ.get("REFERKIT_TEST_PG_SCRATCH") or tempfile.gettempdir()
    base = Path(scratch) / f"pgpair-{uuid.uuid4().hex[:8]}"
    base.mkdir(parents=True)
    base.chmod(0o755)
    servers = Servers(base)
    try:
        servers.run("initdb", "-D", str(base / "primary"), "-U", "postgres", "--auth=trust")
        with (base / "primary" / "postgresql.conf").open("a") as conf:
            # Replication is what initdb's defaults allow from loopback; fsync off: a test.
            conf.write("wal_level = replica\nmax_wal_senders = 4\nfsync = off\n")
        servers.start("primary", PRIMARY_PORT)
        servers.run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(PRIMARY_PORT), "-U", "postgres"),
            *("-D", str(base / "replica"), "-R", "-X", "stream", "-c", "fast"),
        )
        servers.start("replica", REPLICA_PORT, "-c log_statement=all")
        primary = f"postgresql+asyncpg://postgres@127.0.0.1:{PRIMARY_PORT}"
        asyncio.run(_execute(f"{primary}/postgres", "CREATE DATABASE referkit"))
        urls = Pair(
            f"{primary}/referkit",
            f"postgresql+asyncpg://postgres@127.0.0.1:{REPLICA_PORT}/referkit",
            base / "replica.log",
        )
        asyncio.run(migrate.upgrade(urls.primary_url))
        asyncio.run(_until_replayed(urls))
        yield urls
    finally:
        servers.stop("replica")
        servers.stop("primary")
        shutil.rmtree(base, ignore_errors=True)


async def _execute(url: str, statement: str) -> Any:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(statement))
            return result.all() if result.returns_rows else []
    finally:
        await engine.dispose()


async def _until_replayed(pair: Pair) -> None:
    """Wait until the replica has replayed everything the primary wrote so far."""
    (position,) = await _execute(pair.primary_url, "SELECT pg_current_wal_insert_lsn()::text")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            query = f"SELECT pg_last_wal_replay_lsn() >= '{position[0]}'::pg_lsn"
            if (await _execute(pair.replica_url, query))[0][0]:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the replica did not catch up")


@asynccontextmanager
async def _app(pair: Pair, tmp_path: Path, **overrides: Any) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=pair.primary_url,
        database_replica_url=pair.replica_url,
        data_dir=tmp_path,
        base_url="http://testserver",
        secret_key="test-secret-key-" + "x" * 32,
        worker_in_process=False,
        **overrides,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def _replica_ran(pair: Pair, needle: str, since: int) -> bool:
    """Whether the replica ran a statement with ``needle`` after log offset ``since``."""
    return needle in pair.replica_statements()[since:]


async def _member_emails(
    client: httpx.AsyncClient, key: Key, program_id: str, **headers: str
) -> set[str]:
    response = await client.get(
        f"/api/v1/programs/{program_id}/members", headers={**key.headers, **headers}
    )
    assert response.status_code == 200, response.text
    return {member["email"] for member in response.json()["data"]}


async def test_stats_and_lists_read_from_the_replica(pair: Pair, tmp_path: Path) -> None:
    async with _app(pair, tmp_path) as app, _client(app) as client:
        key = await new_key(app)
        program = await create_program(client, key)
        await create_member(client, key, program["id"])
        await _until_replayed(pair)
        start = len(pair.replica_statements())
        stats = await client.get(f"/api/v1/programs/{program['id']}/stats", headers=key.headers)
        assert stats.status_code == 200, stats.text
        assert _replica_ran(pair, "FROM rollups", start)
        assert not _replica_ran(pair, "FROM api_keys", start)  # authentication: the primary
        listed = await client.get(f"/api/v1/programs/{program['id']}/members", headers=key.headers)
        assert listed.status_code == 200
        assert len(listed.json()["data"]) == 1
        assert _replica_ran(pair, "FROM members", start)


async def test_a_client_reads_its_own_writes_while_the_replica_lags(
    pair: Pair, tmp_path: Path
) -> None:
    async with _app(pair, tmp_path) as app, _client(app) as client:
        writer = await new_key(app)
        workspace = (await client.get("/api/v1/workspace", headers=writer.headers)).json()
        other = await new_key(app, workspace=workspace["name"])
        program = await create_program(client, writer)
        await _until_replayed(pair)
        await _execute(pair.replica_url, "SELECT pg_wal_replay_pause()")
        try:
            member = await create_member(client, writer, program["id"])
            # The writer sees its member at once (the primary answers it)...
            assert member["email"] in await _member_emails(client, writer, program["id"])
            # ...another client reads the replica, which has not replayed it yet...
            assert member["email"] not in await _member_emails(client, other, program["id"])
            # ...unless it asks for the primary.
            strong = {"Referkit-Consistency": "strong"}
            assert member["email"] in await _member_emails(client, other, program["id"], **strong)
        finally:
            await _execute(pair.replica_url, "SELECT pg_wal_replay_resume()")
        await _until_replayed(pair)
        assert member["email"] in await _member_emails(client, other, program["id"])
        # Caught up: the writer is back on the replica too.
        await asyncio.sleep(0.6)  # the replica's position is cached for STATUS_TTL
        assert member["email"] in await _member_emails(client, writer, program["id"])


async def test_a_lagging_or_unreachable_replica_is_skipped(pair: Pair, tmp_path: Path) -> None:
    async with (
        _app(pair, tmp_path, database_replica_max_lag_seconds=0.5) as app,
        _client(app) as client,
    ):
        writer = await new_key(app)
        workspace = (await client.get("/api/v1/workspace", headers=writer.headers)).json()
        other = await new_key(app, workspace=workspace["name"])
        program = await create_program(client, writer)
        await _until_replayed(pair)
        await _execute(pair.replica_url, "SELECT pg_wal_replay_pause()")
        try:
            member = await create_member(client, writer, program["id"])
            await asyncio.sleep(1.2)  # past the allowed lag, and past the status cache
            assert member["email"] in await _member_emails(client, other, program["id"])
        finally:
            await _execute(pair.replica_url, "SELECT pg_wal_replay_resume()")
    down = pair.replica_url.replace(f":{REPLICA_PORT}/", f":{NOTHING_LISTENS}/")
    async with _app(Pair(pair.primary_url, down), tmp_path) as app, _client(app) as client:
        key = await new_key(app)
        program = await create_program(client, key)
        member = await create_member(client, key, program["id"])
        assert member["email"] in await _member_emails(client, key, program["id"])
        stats = await client.get(f"/api/v1/programs/{program['id']}/stats", headers=key.headers)
        assert stats.status_code == 200


async def test_read_your_writes_holds_across_processes_through_redis(
    pair: Pair, tmp_path: Path
) -> None:
    redis_url = os.environ.get("REFERKIT_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("REFERKIT_TEST_REDIS_URL is not set")
    shared = {"redis_url": redis_url, "redis_prefix": f"rk-test-{uuid.uuid4().hex[:8]}"}
    async with (
        _app(pair, tmp_path, **shared) as one,
        _app(pair, tmp_path, **shared) as two,
        _client(one) as first,
        _client(two) as second,
    ):
        writer = await new_key(one)
        workspace = (await first.get("/api/v1/workspace", headers=writer.headers)).json()
        other = await new_key(one, workspace=workspace["name"])
        program = await create_program(first, writer)
        await _until_replayed(pair)
        await _execute(pair.replica_url, "SELECT pg_wal_replay_pause()")
        try:
            member = await create_member(first, writer, program["id"])
            # The writer's next request reaches the other process, which learns of the write
            # from Redis and reads the primary; another client there still reads the replica.
            assert member["email"] in await _member_emails(second, writer, program["id"])
            assert member["email"] not in await _member_emails(second, other, program["id"])
        finally:
            await _execute(pair.replica_url, "SELECT pg_wal_replay_resume()")
