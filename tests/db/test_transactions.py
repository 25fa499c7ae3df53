"""How the engines run transactions (``referkit.db.engine``, ``referkit.db.sqlite_trips``).

SQLite: a read session opens no transaction until it writes; a write session's ``BEGIN
IMMEDIATE`` goes with its first statement; a process's writers take turns on the event loop
(a second writer waits for the first to end, not in SQLite's busy handler) and a wait longer
than the busy timeout fails as SQLite's own "database is locked". PostgreSQL: a pooled
connection is pinged only after it sat idle, and a dead one is replaced before use."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from referkit.db import engine as engine_module
from referkit.db import sqlite_trips
from referkit.db.engine import create_engine, write_engine
from referkit.db.session import SessionFactory
from referkit.db.sqlite_trips import WriterTurns, pending_of
from tests.conftest import PG_URL


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tx.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine  # type: ignore[misc]
    await engine.dispose()


async def _raw_in_transaction(session: object) -> bool:
    conn = await session.connection()  # type: ignore[attr-defined]
    raw = await conn.get_raw_connection()
    return bool(raw.driver_connection._conn.in_transaction)


async def test_a_read_session_opens_its_transaction_with_its_first_write(
    sqlite_engine: AsyncEngine,
) -> None:
    sessions = SessionFactory(sqlite_engine)
    async with sessions(write=False) as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 0
        assert not await _raw_in_transaction(session)
        await session.execute(text("INSERT INTO t VALUES (1)"))
        assert await _raw_in_transaction(session)
        await session.execute(text("INSERT INTO t VALUES (2)"))
        await session.rollback()
    async with sessions(write=False) as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 0


async def test_a_write_session_begins_immediate_with_its_first_read(
    sqlite_engine: AsyncEngine,
) -> None:
    sessions = SessionFactory(sqlite_engine)
    async with sessions(write=True) as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 0
        assert await _raw_in_transaction(session)
        # The write lock is held from that read: another connection cannot write now.
        async with write_engine(sqlite_engine).connect() as other:
            raw = await other.get_raw_connection()
            plain = raw.driver_connection._conn
            plain.execute("PRAGMA busy_timeout=0")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                plain.execute("BEGIN IMMEDIATE")
            plain.execute(f"PRAGMA busy_timeout={engine_module.SQLITE_BUSY_TIMEOUT_MS}")
        await session.commit()


async def test_writers_of_one_process_take_turns_on_the_event_loop(
    sqlite_engine: AsyncEngine,
) -> None:
    """The second writer waits for the first writer's turn, then commits; both rows stay."""
    sessions = SessionFactory(sqlite_engine)
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with sessions.transaction() as session:
            await session.execute(text("INSERT INTO t VALUES (1)"))
            first_in.set()
            await release.wait()

    async def second() -> None:
        await first_in.wait()
        async with sessions.transaction() as session:
            await session.execute(text("INSERT INTO t VALUES (2)"))

    one = asyncio.create_task(first())
    two = asyncio.create_task(second())
    await first_in.wait()
    await asyncio.sleep(0.05)
    assert not two.done()
    async with sqlite_engine.connect() as conn:
        raw = await conn.get_raw_connection()
        pending = pending_of(raw.dbapi_connection)
        assert pending is not None
        assert pending.turns is not None
    # The second writer waits on the loop for its turn, not in SQLite's busy handler.
    lock = pending.turns._locks[asyncio.get_running_loop()]
    assert lock.locked()
    assert len(lock._waiters or ()) == 1
    release.set()
    await asyncio.gather(one, two)
    async with sessions(write=False) as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 2


async def test_sixteen_concurrent_writers_all_commit(sqlite_engine: AsyncEngine) -> None:
    sessions = SessionFactory(sqlite_engine)

    async def write(n: int) -> None:
        async with sessions.transaction() as session:
            await session.scalar(text("SELECT count(*) FROM t"))
            await asyncio.sleep(0)
            await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})

    await asyncio.gather(*(write(n) for n in range(16)))
    async with sessions(write=False) as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 16


async def test_a_turn_not_given_back_in_time_fails_as_database_is_locked(
    sqlite_engine: AsyncEngine,
) -> None:
    sessions = SessionFactory(sqlite_engine)
    async with sessions.transaction() as holder:
        await holder.execute(text("INSERT INTO t VALUES (1)"))
        raw = await (await holder.connection()).get_raw_connection()
        pending = pending_of(raw.dbapi_connection)
        assert pending is not None
        assert pending.turns is not None
        pending.turns.timeout = 0.05
        async with sessions(write=True) as waiter:
            with pytest.raises(OperationalError, match="database is locked"):
                await waiter.execute(text("INSERT INTO t VALUES (2)"))
            await waiter.rollback()
        pending.turns.timeout = engine_module.SQLITE_BUSY_TIMEOUT_MS / 1000
    async with sessions(write=False) as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 1


async def test_turns_are_per_event_loop() -> None:
    turns = WriterTurns(1.0)
    lock = await turns.take()
    assert lock.locked()
    lock.release()


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL")
async def test_an_idle_postgres_connection_found_dead_is_replaced_before_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert PG_URL is not None
    engine = create_engine(PG_URL, pool_size=1)
    try:
        async with engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        # Recently used: no ping, the same connection comes back.
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) == pid
        admin = create_engine(PG_URL, pool_size=1)
        try:
            async with admin.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            await admin.dispose()
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
        async with engine.connect() as conn:  # idle "long enough": pinged, found dead, replaced
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The calls handed to aiosqlite connections' threads from now on."""
    handed: list[object] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object) -> object:
        handed.append(fn)
        return await original(self, fn, *args)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return handed


async def test_short_reads_run_on_the_loop_and_long_ones_move_to_the_thread(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, trips: list[object]
) -> None:
    """A read within its budget costs no trip to the connection's thread; one past it is
    interrupted and answered in full from the thread."""
    sessions = SessionFactory(sqlite_engine)
    async with sessions.transaction() as session:
        await session.execute(text("INSERT INTO t VALUES (:n)"), [{"n": n} for n in range(100)])
    trips.clear()
    cube = text("SELECT count(*), sum(a.n) FROM t AS a, t AS b, t AS c WHERE b.n < :top")
    async with sessions(write=False) as session:
        assert (await session.execute(cube, {"top": 1})).one() == (10_000, 495_000)
        assert trips == []
        monkeypatch.setattr(sqlite_trips, "LOOP_READ_STEPS", 5_000)
        assert (await session.execute(cube, {"top": 100})).one() == (1_000_000, 49_500_000)
        assert len(trips) == 1


async def test_a_write_transaction_that_changes_nothing_makes_no_trip_to_the_thread(
    sqlite_engine: AsyncEngine, trips: list[object]
) -> None:
    """With its turn, a writer's BEGIN IMMEDIATE goes on the loop; a transaction that changed
    no row commits there too. Writes, and the COMMIT after them, go to the thread."""
    sessions = SessionFactory(sqlite_engine)
    async with sessions.transaction() as session:  # opens the pool's connection first
        await session.scalar(text("SELECT 1"))
    trips.clear()
    async with sessions.transaction() as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 0
        assert await _raw_in_transaction(session)
    assert trips == []
    async with sessions.transaction() as session:
        await session.execute(text("INSERT INTO t VALUES (7)"))
    assert len(trips) == 2  # the INSERT, then the COMMIT
    async with sessions(write=False) as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 1
