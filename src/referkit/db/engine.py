"""Engine construction for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout. We take over transaction control from the driver
(``isolation_level = None`` plus our own ``BEGIN``) so that savepoints work and so that write
requests can open their transaction with ``BEGIN IMMEDIATE``: a writer then queues on the
database lock up front (honouring the busy timeout) instead of failing when a read transaction
tries to upgrade to a write. Engines are built in the app lifespan or the CLI, never at import.

PostgreSQL behind PgBouncer in transaction pooling mode (``REFERKIT_DATABASE_PGBOUNCER``): each
transaction may run on another server connection, so nothing may outlive a transaction on the
server. asyncpg's named prepared statements do: a cached statement is missing on the next server
connection, and two clients' ``__asyncpg_stmt_N__`` collide on a shared one. With both caches off
(``pgbouncer_connect_args``) every statement is the unnamed one, parsed and run in one exchange
that PgBouncer keeps on one server connection, and replaced by the next: nothing leaks either.
PgBouncer 1.21+ can track named statements itself (``max_prepared_statements``); Debian 12 ships
1.18, and the unnamed statements work with every version.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic_core import from_json
from sqlalchemy import event, exc
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from referkit.db.sqlite_trips import OneTripConnection, WriterTurns, attach, pending_of

SQLITE_BUSY_TIMEOUT_MS = 15_000
SQLITE_POOL_SIZE = 32
PING_AFTER_IDLE_SECONDS = 10.0
"""A pooled PostgreSQL connection idle this long is pinged before use (see ``_ping_idle``)."""
WRITE_OPTIONS = {"referkit_write": True}


def sqlite_pragmas(busy_timeout_ms: int) -> list[str]:
    """What every SQLite connection of ours runs first: WAL, a busy timeout, foreign keys, and
    ``synchronous=NORMAL`` (a committed transaction survives a crash of the process)."""
    return [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={busy_timeout_ms}",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
    ]


def pgbouncer_connect_args(pgbouncer: bool) -> dict[str, Any]:
    """asyncpg connection arguments for a server reached through PgBouncer in transaction
    mode: no prepared statement kept by SQLAlchemy's adapter nor by asyncpg (see above)."""
    if not pgbouncer:
        return {}
    return {"prepared_statement_cache_size": 0, "statement_cache_size": 0}


def create_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, pgbouncer: bool = False
) -> AsyncEngine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo)
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args=pgbouncer_connect_args(pgbouncer),
    )
    _ping_idle(engine)
    return engine


def _ping_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it has been idle a while.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout, and asyncpg's ping is three round
    trips (``BEGIN``, ``;``, ``ROLLBACK``): more than a whole read request. A connection that
    was in use a moment ago is alive; one idle for ``PING_AFTER_IDLE_SECONDS`` (a server
    restart, a proxy's idle timeout) is checked, and a dead one replaced before the request
    sees it, as ``pool_pre_ping`` would."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _idle(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _check(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:  # any failure: let the pool open a new connection
            raise exc.DisconnectionError(str(error)) from error


def json_loads(text: str | bytes) -> Any:
    """A JSON column's value as SQLite stores it (text), parsed by pydantic-core's parser
    (about three times as fast as ``json.loads``: a page of referrals reads thirty); what that
    parser refuses (a lone surrogate escape) is parsed by ``json.loads``, as before."""
    try:
        return from_json(text)
    except ValueError:
        return json.loads(text)


def _sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    engine = create_async_engine(
        url,
        echo=echo,
        json_deserializer=json_loads,
        # The loop reads ``in_transaction`` to skip empty COMMITs (``referkit.db.sqlite_trips``).
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        # Opening a SQLite connection starts a thread and runs the pragmas: keep as many as a
        # busy process uses at once rather than open and close the ones past the pool per
        # request (11 % of a loaded server's time with 8 + 8).
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=SQLITE_POOL_SIZE,
        pool_timeout=60,
    )

    turns = WriterTurns(SQLITE_BUSY_TIMEOUT_MS / 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
            dbapi_connection.__class__ = OneTripConnection  # see referkit.db.sqlite_trips
            attach(dbapi_connection, turns, SQLITE_BUSY_TIMEOUT_MS)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in sqlite_pragmas(SQLITE_BUSY_TIMEOUT_MS):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("referkit_write", False)
        pending = pending_of(conn.connection.dbapi_connection)
        if pending is not None:  # sent with the first statement that needs it
            pending.open(write=write)
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def write_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, marked so SQLite transactions begin IMMEDIATE (no-op on PostgreSQL)."""
    return engine.execution_options(**WRITE_OPTIONS)
