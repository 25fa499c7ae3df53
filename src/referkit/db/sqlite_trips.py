"""SQLite statements in one trip to aiosqlite's thread, transactions begun with their first
write, and a process's writers taking turns on the event loop.

One trip: SQLAlchemy's aiosqlite adapter makes a statement four calls to the connection's
thread — open a cursor, execute, fetch the rows, close — and every call is a thread handoff that
costs a fraction of a millisecond on a busy or virtualised machine. ``OneTripCursor`` runs the
whole sequence as one function on that thread and keeps what SQLAlchemy reads back
(description, rowcount, lastrowid, the rows).

Transactions: ``BEGIN`` is not a trip of its own. The engine's ``begin`` hook only notes which
``BEGIN`` the transaction needs (``Pending``); the first statement that needs it sends it in the
same trip. A write session (``BEGIN IMMEDIATE``) sends it with its first statement, reads
included, so a read-then-write is serialised as before. A read session sends ``BEGIN`` only with
its first write: until then each read runs on its own, as every statement does on PostgreSQL
under READ COMMITTED, and a read request costs no ``BEGIN`` and no ``COMMIT``. Whatever the
session writes still commits or rolls back as one. ``COMMIT`` and ``ROLLBACK`` skip the trip
when no transaction is open (a read session's commit, the pool's reset on return).

Turns: SQLite lets one writer in at a time. When a process's requests all ask at once, the
losers of ``BEGIN IMMEDIATE`` sleep in SQLite's busy handler with a growing back-off (up to
100 ms a try) while the database may already be free: a create-or-fetch under 16 connections
had a p99 of 1.3 s. So the writers of one engine wait for their turn on the event loop first
(``WriterTurns``, an ``asyncio.Lock`` per loop), taken before the ``BEGIN`` that writes and given
back once the transaction ends. The busy handler still arbitrates between processes, and a wait
for a turn gives up after the busy timeout with SQLite's own "database is locked".

Reads on the loop: a trip to the thread is cheap on its own, but under load every one of them
is a GIL hand-over and two wake-ups, and a request of four statements made four. A read that
needs no ``BEGIN`` runs on the event loop itself instead — SQLite in WAL mode never makes a
reader wait for a writer, and an indexed read is a few microseconds of C — under a budget of
virtual-machine steps (``LOOP_READ_STEPS``): a read that exceeds it (a year of stats, an
export) is interrupted, which undoes nothing for a ``SELECT``, and runs again on the thread,
where it leaves the loop free. Writes, ``BEGIN`` and ``COMMIT`` always go to the thread: they
may wait for a lock or a checkpoint — with two exceptions that cannot wait: once this process's
writer holds its turn, its ``BEGIN IMMEDIATE`` is tried on the loop without a busy timeout (it
goes to the thread only when another process holds the lock), and a transaction that changed no
row commits on the loop (nothing to write, no checkpoint to run). A create-or-fetch of a member
that exists then makes no trip at all.

The engine's connect hook switches each new connection to ``OneTripConnection``.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import weakref
from typing import Any, cast

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_ss_cursor,
)

_READS = ("SELECT", "PRAGMA", "EXPLAIN")
LOOP_READ_STEPS = 200_000
"""Virtual-machine steps a read may take on the event loop before it moves to the thread."""
_STEPS_PER_CHECK = 1_000


class _Budget:
    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = LOOP_READ_STEPS // _STEPS_PER_CHECK

    def __call__(self) -> int:
        self.left -= 1
        return self.left < 0  # true: SQLite interrupts the statement


def writes(operation: str) -> bool:
    """Whether a statement may write (anything but a plain read needs the transaction)."""
    return not operation.lstrip()[:7].upper().startswith(_READS)


class WriterTurns:
    """One writer at a time per event loop, for the connections of one engine."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout = timeout_seconds
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def take(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        if not lock.locked():
            await lock.acquire()
            return lock
        try:
            await asyncio.wait_for(lock.acquire(), self.timeout)
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        return lock


class Pending:
    """A connection's transaction state: the ``BEGIN`` not sent yet, and the turn it holds."""

    __slots__ = ("begin", "busy_ms", "changes", "eager", "turn", "turns")

    def __init__(self, turns: WriterTurns | None, busy_ms: int) -> None:
        self.turns = turns
        self.busy_ms = busy_ms
        self.begin: str | None = None
        self.eager = False
        self.turn: asyncio.Lock | None = None
        self.changes = -1
        """The connection's ``total_changes`` when the transaction began."""

    def open(self, *, write: bool) -> None:
        """A transaction starts: ``BEGIN IMMEDIATE`` with the first statement, or ``BEGIN``
        with the first write."""
        self.begin = "BEGIN IMMEDIATE" if write else "BEGIN"
        self.eager = write

    def needed(self, write: bool) -> str | None:
        """The ``BEGIN`` a statement (a write or not) must send first, or None."""
        if self.begin is None or not (self.eager or write):
            return None
        return self.begin

    async def take_turn(self) -> None:
        if self.turns is not None and self.turn is None:
            self.turn = await self.turns.take()

    def end(self) -> None:
        """The transaction is over (committed, rolled back, or its connection closed)."""
        self.begin = None
        turn, self.turn = self.turn, None
        if turn is not None and turn.locked():
            turn.release()


def pending_of(adapted: Any) -> Pending | None:
    """The ``Pending`` of an adapted aiosqlite connection, if the engine gave it one."""
    state: Pending | None = getattr(adapted._connection, "referkit_pending", None)
    return state


def attach(adapted: Any, turns: WriterTurns | None, busy_ms: int) -> Pending:
    adapted._connection.referkit_pending = state = Pending(turns, busy_ms)
    return state


class _Outcome:
    """Stands in for the aiosqlite cursor: what the last statement left behind."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self) -> None:
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    def close(self) -> None:
        """Nothing to close: the real cursor closed on the connection's thread."""


def _begin(conn: sqlite3.Connection, begin: str | None) -> None:
    if begin is not None and not conn.in_transaction:
        conn.execute(begin)


def _execute(
    conn: sqlite3.Connection,
    outcome: _Outcome,
    operation: str,
    parameters: Any,
    fetch: bool,
    begin: str | None,
) -> list[Any] | None:
    _begin(conn, begin)
    cursor = conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        outcome.description = cursor.description
        outcome.rowcount = cursor.rowcount
        outcome.lastrowid = cursor.lastrowid
        return cursor.fetchall() if fetch and cursor.description else None
    finally:
        cursor.close()


def _executemany(
    conn: sqlite3.Connection,
    outcome: _Outcome,
    operation: str,
    seq_of_parameters: Any,
    begin: str | None,
) -> None:
    _begin(conn, begin)
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        outcome.description = cursor.description
        outcome.rowcount = cursor.rowcount
        outcome.lastrowid = cursor.lastrowid
    finally:
        cursor.close()


async def _begin_for(adapted: Any, write: bool) -> str | None:
    """The ``BEGIN`` still to send before a statement (a write or not), or None; a ``BEGIN``
    is only ever needed to write, so the writer's turn is taken first."""
    state = pending_of(adapted)
    if state is None:
        return None
    begin = state.needed(write)
    if begin is None:
        return None
    state.begin = None  # sent now; if it fails, the rollback that follows ends the turn
    raw = adapted._connection._connection
    if raw is not None:
        state.changes = raw.total_changes
    await state.take_turn()
    if raw is not None and state.turn is not None and _begin_on_loop(raw, begin, state):
        return None
    return begin


def _begin_on_loop(conn: sqlite3.Connection, begin: str, state: Pending) -> bool:
    """``begin`` on the loop if no other process holds the write lock (True), without waiting
    for one that does (False: the thread sends it and waits there)."""
    if conn.in_transaction:
        return True
    conn.execute("PRAGMA busy_timeout=0")
    try:
        conn.execute(begin)
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return False
        raise
    finally:
        conn.execute(f"PRAGMA busy_timeout={state.busy_ms}")
    return True


def read_on_loop(
    conn: sqlite3.Connection, operation: str, parameters: Any, outcome: _Outcome | None = None
) -> list[Any] | None:
    """The read's rows, or None when it ran past its budget (nothing of it is kept); with an
    ``outcome``, what the cursor left behind is kept there for SQLAlchemy."""
    conn.set_progress_handler(_Budget(), _STEPS_PER_CHECK)
    try:
        if outcome is None:
            return conn.execute(operation, parameters).fetchall()
        return _execute(conn, outcome, operation, parameters, True, None) or []
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode == sqlite3.SQLITE_INTERRUPT:
            return None
        raise
    finally:
        conn.set_progress_handler(None, 0)


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return _Outcome()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        write = writes(operation)
        begin = await _begin_for(self._adapt_connection, write)
        raw = self._connection._connection
        if begin is None and raw is not None and not write:
            rows = read_on_loop(raw, operation, parameters, cast(_Outcome, self._cursor))
            if rows is not None:
                self._rows = collections.deque(rows)
                return None
        async with self._adapt_connection._execute_mutex:
            rows = await self._connection._execute(
                _execute,
                self._connection._conn,
                self._cursor,
                operation,
                parameters,
                not self.server_side,
                begin,
            )
            if rows is not None:
                self._rows = collections.deque(rows)
            return None

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        begin = await _begin_for(self._adapt_connection, writes(operation))
        async with self._adapt_connection._execute_mutex:
            await self._connection._execute(
                _executemany,
                self._connection._conn,
                self._cursor,
                operation,
                seq_of_parameters,
                begin,
            )
            return None


class PendingServerSideCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """SQLAlchemy's streaming cursor, sending the pending ``BEGIN`` as a trip of its own."""

    __slots__ = ()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        begin = await _begin_for(self._adapt_connection, writes(operation))
        if begin is not None:
            await self._connection._execute(_begin, self._connection._conn, begin)
        return await super()._execute_async(operation, parameters)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor
    _ss_cursor_cls = PendingServerSideCursor

    def _in_transaction(self) -> bool:
        raw = self._connection._connection
        return raw is not None and raw.in_transaction

    def _end(self) -> None:
        state = pending_of(self)
        if state is not None:
            state.end()

    def commit(self) -> None:
        try:
            if self._in_transaction():
                raw = self._connection._connection
                state = pending_of(self)
                if raw is not None and state is not None and state.changes == raw.total_changes:
                    raw.execute("COMMIT")  # nothing written: only the locks to let go
                else:
                    super().commit()
        finally:
            self._end()

    def rollback(self) -> None:
        try:
            if self._in_transaction():
                super().rollback()
        finally:
            self._end()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._end()

    def terminate(self) -> None:
        try:
            super().terminate()
        finally:
            self._end()
