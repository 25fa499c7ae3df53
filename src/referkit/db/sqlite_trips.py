"""One trip to aiosqlite's thread per statement, instead of four.

SQLAlchemy's aiosqlite adapter makes a statement four calls to the connection's thread — open
a cursor, execute, fetch the rows, close — and every call is a thread handoff that costs a
fraction of a millisecond on a busy or virtualised machine: a request of five statements spent
most of its time handing off. ``OneTripCursor`` runs the whole sequence as one function on that
thread and keeps what SQLAlchemy reads back (description, rowcount, lastrowid, the rows).
The engine's connect hook switches each new connection to ``OneTripConnection``; server-side
cursors keep SQLAlchemy's own class.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)


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


def _execute(
    conn: sqlite3.Connection, outcome: _Outcome, operation: str, parameters: Any, fetch: bool
) -> list[Any] | None:
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
    conn: sqlite3.Connection, outcome: _Outcome, operation: str, seq_of_parameters: Any
) -> None:
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        outcome.description = cursor.description
        outcome.rowcount = cursor.rowcount
        outcome.lastrowid = cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return _Outcome()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            rows = await self._connection._execute(
                _execute,
                self._connection._conn,
                self._cursor,
                operation,
                parameters,
                not self.server_side,
            )
            if rows is not None:
                self._rows = collections.deque(rows)
            return None

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            await self._connection._execute(
                _executemany,
                self._connection._conn,
                self._cursor,
                operation,
                seq_of_parameters,
            )
            return None


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor
