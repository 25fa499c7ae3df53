"""Plain reads: a statement built once, run on SQLite by the driver on the event loop.

Running a ``SELECT`` through an ``AsyncSession`` costs far more Python than SQLite spends on
it: the session's autobegin, a pool checkout, SQLAlchemy's execution context, a greenlet switch
per call, the result's metadata and rows. Measured in process, an indexed read of one row took
130 to 270 µs that way and about 4 µs through the driver. A request that only reads (find the
key, read a program) paid that twice, and the session's commit on top.

A ``PlainRead`` is a Core ``SELECT`` built once (bound parameters by name). On SQLite, when the
session has begun no transaction, it runs on a connection of the process's own
(``LoopReader``: one per thread, ``query_only``, autocommit) straight on the event loop, under
the same budget of virtual-machine steps as every read on the loop (``db.sqlite_trips``); the
values are converted by the columns' own types (times, JSON, booleans) and each row is a named
tuple of the selected columns' keys. That is what the session does for such a read on SQLite
anyway: until a read session's first write, each of its statements runs on its own (no
``BEGIN``), and WAL lets a reader see every committed transaction without waiting for a
writer. So a key revoked a moment ago in another process is refused at once, as before.

Everything else reads through the session, as before: PostgreSQL (its server does the work,
and a replica may be chosen), an in-memory database, a session with a transaction begun (it
must read what it wrote, and a write session's reads belong to its ``BEGIN IMMEDIATE``), a read
past its budget, a busy database or a failing statement (whose error the session reports as it
reports every other). A write session reads on the loop only what the caller says belongs
before its unit of work (``before_transaction``): the request's key, and a look-up whose caller
reads again in the transaction before it changes anything.
"""

from __future__ import annotations

import collections
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import Dialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import CompoundSelect

from referkit.db.sqlite_trips import read_on_loop

LOOP_READER = "referkit_loop_reader"
"""``session.info`` key of the factory's ``LoopReader`` (SQLite on a file only)."""
WRITE_SESSION = "referkit_write_session"
"""``session.info`` key set on write sessions: their reads belong to their transaction."""

Processor = Callable[[Any], Any] | None


class _Plan(NamedTuple):
    sql: str
    names: tuple[str, ...]
    binds: tuple[Processor, ...]
    defaults: dict[str, Any]
    """The values of the statement's own parameters (a literal bound anonymously)."""
    results: tuple[tuple[int, Callable[[Any], Any]], ...]
    row: Callable[..., Any]


class PlainRead:
    """A ``SELECT`` (or a compound of them) run as a plain read where it can be (see above).

    Its bound parameters are given by name at each run; parameters rendered into the SQL at
    execution (an expanding ``IN``, ``literal_execute``) are refused when it is first run.
    Rows are named tuples of the selected columns' keys."""

    __slots__ = ("_plans", "statement")

    def __init__(
        self, statement: Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]]
    ) -> None:
        self.statement = statement
        self._plans: dict[Dialect, _Plan] = {}

    def plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect)
        if plan is None:
            plan = self._plans[dialect] = self._compile(dialect)
        return plan

    def _compile(self, dialect: Dialect) -> _Plan:
        compiled = self.statement.compile(dialect=dialect)
        binds = compiled.binds
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError(
                "a plain read takes no parameter rendered at execution (IN, literal_execute)"
            )
        names = tuple(compiled.positiontup or ())
        columns = list(self.statement.selected_columns)
        if not columns:
            raise ValueError("a plain read selects columns (not a textual SELECT list)")
        results = []
        for index, column in enumerate(columns):
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None:
                results.append((index, processor))
        # Two columns of one key (a table joined twice) are told apart by position.
        row = collections.namedtuple(  # type: ignore[misc]
            "PlainRow", [str(column.key) for column in columns], rename=True
        )
        return _Plan(
            sql=compiled.string,
            names=names,
            binds=tuple(binds[name].type.bind_processor(dialect) for name in names),
            defaults={
                name: binds[name].effective_value for name in names if not binds[name].required
            },
            results=tuple(results),
            row=row._make,
        )

    async def all(
        self, session: AsyncSession, params: Mapping[str, Any], *, before_transaction: bool = False
    ) -> list[Any]:
        """Every row the statement reads with ``params``."""
        reader: LoopReader | None = session.info.get(LOOP_READER)
        if (
            reader is not None
            and not session.in_transaction()
            and (before_transaction or not session.info.get(WRITE_SESSION))
        ):
            rows = reader.read(self, params)
            if rows is not None:
                return rows
        # On the session's connection: a Core statement needs none of the ORM's execution.
        connection = await session.connection()
        result = await connection.execute(self.statement, dict(params))
        return list(result.all())

    async def first(
        self, session: AsyncSession, params: Mapping[str, Any], *, before_transaction: bool = False
    ) -> Any | None:
        """The first row, or None."""
        rows = await self.all(session, params, before_transaction=before_transaction)
        return rows[0] if rows else None


class LoopReader:
    """A read-only SQLite connection per thread, on the database file of an engine."""

    def __init__(self, database: str, dialect: Dialect) -> None:
        self.database = database
        self.dialect = dialect
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @classmethod
    def of(cls, engine: AsyncEngine) -> LoopReader | None:
        """A reader for ``engine`` if it is SQLite on a file, else None."""
        url: URL = make_url(str(engine.url))
        if url.get_backend_name() != "sqlite" or url.query:
            return None
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        return cls(os.path.abspath(database), engine.dialect)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # No busy wait on the loop: a read that finds the database busy goes through the
            # session, on its thread.
            conn = sqlite3.connect(
                self.database, isolation_level=None, check_same_thread=False, timeout=0
            )
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def read(self, read: PlainRead, params: Mapping[str, Any]) -> list[Any] | None:
        """The rows, converted; None when the read ran past its budget on the loop."""
        plan = read.plan(self.dialect)
        if plan.defaults:
            params = {**plan.defaults, **params}
        values = [
            params[name] if bind is None else bind(params[name])
            for name, bind in zip(plan.names, plan.binds, strict=True)
        ]
        try:
            raw = read_on_loop(self._connection(), plan.sql, values)
        except sqlite3.Error:
            # The database busy (a WAL recovery, a checkpoint truncating the log), or an error
            # of the statement or its values: the session reads it, and reports an error as
            # SQLAlchemy does for every other statement.
            return None
        if raw is None:
            return None
        make, results = plan.row, plan.results
        if not results:
            return [make(row) for row in raw]
        rows = []
        for row in raw:
            values = list(row)
            for index, processor in results:
                values[index] = processor(values[index])
            rows.append(make(values))
        return rows

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()
