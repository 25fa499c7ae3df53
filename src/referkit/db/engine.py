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

from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from referkit.db.sqlite_trips import OneTripConnection

SQLITE_BUSY_TIMEOUT_MS = 15_000
SQLITE_POOL_SIZE = 32
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
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=pgbouncer_connect_args(pgbouncer),
    )


def _sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    engine = create_async_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        # Opening a SQLite connection starts a thread and runs the pragmas: keep as many as a
        # busy process uses at once rather than open and close the ones past the pool per
        # request (11 % of a loaded server's time with 8 + 8).
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=SQLITE_POOL_SIZE,
        pool_timeout=60,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
            dbapi_connection.__class__ = OneTripConnection  # see referkit.db.sqlite_trips
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in sqlite_pragmas(SQLITE_BUSY_TIMEOUT_MS):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("referkit_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def write_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, marked so SQLite transactions begin IMMEDIATE (no-op on PostgreSQL)."""
    return engine.execution_options(**WRITE_OPTIONS)
