"""Connections of the hot-path writers' own on PostgreSQL (asyncpg, no SQLAlchemy pool).

A batch writer that sends one self-committing statement per batch needs no pool checkout, ping
or reset between batches: it takes an idle connection of its own (opening one if none is idle,
so each batch in flight has one), and drops a connection whose statement failed for want of the
server, so the next batch connects afresh.

Every connection taken is either handed back idle or closed, whatever the exception (a value
the encoder refused, a constraint, a cancelled task): a connection lost track of stays open on
the server until the process exits, and enough of them exhaust its ``max_connections``.

Behind PgBouncer (``pgbouncer=True``) asyncpg keeps no named prepared statement: each batch's
statement is the unnamed one, parsed and run in one exchange (see ``db.engine``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from referkit.db.engine import pgbouncer_connect_args

_BROKEN = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


def _reusable(conn: asyncpg.Connection) -> bool:
    return not conn.is_closed() and not conn.is_in_transaction()


class DirectConnections:
    def __init__(self, engine: AsyncEngine, *, pgbouncer: bool = False) -> None:
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        # Only asyncpg's own cache applies here (the other is SQLAlchemy's adapter's).
        self._connect_args = {
            name: value
            for name, value in pgbouncer_connect_args(pgbouncer).items()
            if name == "statement_cache_size"
        }
        self._idle: list[asyncpg.Connection] = []
        self._open: set[asyncpg.Connection] = set()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        conn = self._idle.pop() if self._idle else None
        if conn is None or conn.is_closed():
            if conn is not None:
                self._open.discard(conn)
            conn = await asyncpg.connect(self.dsn, **self._connect_args)
            self._open.add(conn)
        try:
            yield conn
        except BaseException as exc:
            # A statement error (or one raised before the statement was sent) leaves the
            # connection idle and usable; a broken or cancelled one is dropped.
            if isinstance(exc, _BROKEN) or not isinstance(exc, Exception) or not _reusable(conn):
                conn.terminate()
                self._open.discard(conn)
            else:
                self._idle.append(conn)
            raise
        self._idle.append(conn)

    async def close(self) -> None:
        for conn in self._open:
            await conn.close()
        self._open.clear()
        self._idle.clear()
