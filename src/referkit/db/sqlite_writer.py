"""SQLite connections for the group-commit writers of the hot paths.

Going through aiosqlite and SQLAlchemy costs a thread hop and a statement compilation per
statement, and a batch of clicks needs four statements. ``SqliteWriter`` runs a whole batch —
``BEGIN IMMEDIATE``, the writes, ``COMMIT`` — as one plain function call with the engine's
pragmas (WAL, foreign keys, ``synchronous=NORMAL``: a committed batch survives a crash of the
process).

Where it runs matters. On a thread, the batch has to win the GIL back from the event loop after
every statement, and under load it waits a whole switch interval each time. So a batch first
runs on the event loop itself, on a connection that never waits for a lock (busy timeout 0):
with the write lock free, a batch is a few hundred microseconds of C. Only when another writer
holds the lock does the batch go to the writer thread, whose connection waits as long as the
engine's do — the loop never blocks on a lock that an API request (served by that same loop)
may be holding. WAL checkpoints, the one slow step, also run on the thread.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from referkit.db.engine import SQLITE_BUSY_TIMEOUT_MS, sqlite_pragmas

logger = logging.getLogger("referkit.sqlite")

R = TypeVar("R")
_CHECKPOINT_EVERY = 256  # commits on the loop's connection between passive checkpoints


def _connect(path: str, timeout_ms: int, *, autocheckpoint: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, timeout=timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    for pragma in sqlite_pragmas(timeout_ms):
        conn.execute(pragma)
    if not autocheckpoint:
        conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


def _run(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], R]) -> R:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _locked(exc: sqlite3.OperationalError) -> bool:
    return exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SqliteWriter:
    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._fast: sqlite3.Connection | None = None
        self._slow: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._commits = 0
        self._checkpoint: asyncio.Future[None] | None = None

    def _slow_connection(self) -> sqlite3.Connection:
        """The writer thread's connection (it waits for locks as long as the engine's do)."""
        if self._slow is None:
            self._slow = _connect(self.path, SQLITE_BUSY_TIMEOUT_MS, autocheckpoint=True)
        return self._slow

    def _slow_run(self, work: Callable[[sqlite3.Connection], R]) -> R:
        return _run(self._slow_connection(), work)

    async def transaction(self, work: Callable[[sqlite3.Connection], R]) -> R:
        """Run ``work(connection)`` in one committed transaction; return its result."""
        async with self._lock:  # one batch at a time over both connections
            if self._fast is None:
                self._fast = _connect(self.path, 0, autocheckpoint=False)
            try:
                result = _run(self._fast, work)
            except sqlite3.OperationalError as exc:
                if not _locked(exc):
                    raise
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._executor, self._slow_run, work)
            self._commits += 1
            if self._commits % _CHECKPOINT_EVERY == 0 and self._checkpoint is None:
                self._checkpoint = asyncio.get_running_loop().run_in_executor(
                    self._executor, self._checkpoint_now
                )
                self._checkpoint.add_done_callback(self._checkpointed)
            return result

    def _checkpoint_now(self) -> None:
        self._slow_connection().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _checkpointed(self, future: asyncio.Future[None]) -> None:
        self._checkpoint = None
        if not future.cancelled() and future.exception() is not None:
            logger.warning("WAL checkpoint failed: %s", future.exception())

    def _close(self) -> None:
        if self._slow is not None:
            self._slow.close()
            self._slow = None

    async def close(self) -> None:
        async with self._lock:
            if self._checkpoint is not None:
                await asyncio.shield(self._checkpoint)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._close)
            self._executor.shutdown(wait=True)
            if self._fast is not None:
                self._fast.close()
                self._fast = None


def sqlite_path(url: Any) -> str | None:
    """The database file of a SQLAlchemy SQLite URL (None for in-memory or other databases)."""
    if url.get_backend_name() != "sqlite":
        return None
    database: str | None = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database
