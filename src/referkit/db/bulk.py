"""Multi-row inserts for the hot write paths, below the ORM.

The ORM's unit of work and SQLAlchemy's per-parameter processing cost more than the database
does for a batch of a few hundred rows. ``BulkInsert`` builds a table's statement once from the
model and converts values the way the column types would:

- SQLite: ``INSERT … VALUES (?, …)`` run with ``executemany`` (datetimes as the UTC text that
  ``UTCDateTime`` stores, JSON as text; ``sqlite3`` binds booleans as 1 and 0 itself);
- PostgreSQL (asyncpg): ``INSERT … SELECT * FROM unnest($1::type[], …)``, one array per column,
  so the whole batch is one statement encoded in C.

Rows are dicts keyed by column name; a missing key is NULL. ``insert`` runs inside the caller's
transaction (an ``AsyncSession`` or ``AsyncConnection``); other drivers go through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import JSON, Table, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from referkit.db.types import UTCDateTime
from referkit.kit.json import dumps
from referkit.kit.time import as_utc

Row = dict[str, Any]


_last_datetime: tuple[Any, str] = (None, "")


def sqlite_datetime(value: Any) -> Any:
    """UTC text exactly as SQLAlchemy stores a ``UTCDateTime`` on SQLite (sortable)."""
    global _last_datetime
    if value is None:
        return None
    last = _last_datetime  # the rows of a batch mostly share their timestamps
    if value is last[0]:
        return last[1]
    text = as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")
    _last_datetime = (value, text)
    return text


def _json(value: Any) -> str:
    # SQLAlchemy's JSON type stores Python None as the JSON value null, not SQL NULL.
    return dumps(value).decode()


class BulkInsert:
    def __init__(self, table: Table, *, suffix: str = "") -> None:
        """``suffix``: SQL both databases accept after the insert (``ON CONFLICT …``)."""
        self.table = table
        self.columns = [column.name for column in table.columns]
        compiled = sqlite.insert(table).compile(dialect=sqlite.dialect(paramstyle="qmark"))
        assert list(compiled.positiontup or []) == self.columns
        self.suffix = suffix
        self.sqlite_sql = str(compiled) + suffix
        self._sqlite: list[tuple[int, Callable[[Any], Any]]] = []
        self._pg: list[tuple[int, Callable[[Any], Any]]] = []
        for index, column in enumerate(table.columns):
            if isinstance(column.type, UTCDateTime):
                self._sqlite.append((index, sqlite_datetime))
            elif isinstance(column.type, JSON):
                self._sqlite.append((index, _json))
                self._pg.append((index, _json))
        pg = postgresql.dialect()  # type: ignore[no-untyped-call]
        self._pg_types = [column.type.compile(dialect=pg) for column in table.columns]
        arrays = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(self._pg_types, start=1))
        self.pg_unnest_args = arrays
        """``$1::type[], …``: one typed array parameter per column, for statements built on
        top of this one."""
        names = ", ".join(f'"{name}"' for name in self.columns)
        self.pg_sql = f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}){suffix}"  # noqa: S608
        self._compact_sql: dict[tuple[bool, ...], str] = {}
        self._values = itemgetter(*self.columns)
        self._attributes = attrgetter(*self.columns)

    def _complete(self, row: Row) -> tuple[Any, ...]:
        if len(row) != len(self.columns):
            row = {name: row.get(name) for name in self.columns}
        values: tuple[Any, ...] = self._values(row)
        return values

    def sqlite_values(self, rows: Sequence[Row]) -> list[list[Any]]:
        return self._sqlite_values(map(self._complete, rows))

    def _sqlite_values(self, tuples: Iterable[tuple[Any, ...]]) -> list[list[Any]]:
        converted = []
        for values in map(list, tuples):
            for index, convert in self._sqlite:
                values[index] = convert(values[index])
            converted.append(values)
        return converted

    def sqlite_record_values(self, records: Sequence[Any]) -> list[list[Any]]:
        """``sqlite_values`` of objects with an attribute per column."""
        return self._sqlite_values(map(self._attributes, records))

    def pg_compact_records(self, records: Sequence[Any]) -> tuple[str, list[Any]]:
        """``pg_sql`` and its arguments for objects with an attribute per column, with every
        column that holds one value throughout the batch bound once as a scalar.

        Most columns of a batch are NULL everywhere or the same for every row (the workspace,
        the mode, the batch's time): sent as one value, they cost neither asyncpg's encoding
        of a thousand elements nor PostgreSQL's unnesting of them. One statement per pattern
        of such columns is prepared and kept."""
        columns = self._pg_arrays(map(self._attributes, records))
        single = tuple(column.count(column[0]) == len(column) for column in columns)
        sql = self._compact_sql.get(single)
        if sql is None:
            sql = self._compact_sql[single] = self._compact(single)
        return sql, [
            column[0] if one else column for column, one in zip(columns, single, strict=True)
        ]

    def _compact(self, single: tuple[bool, ...]) -> str:
        selected, arrays, names = [], [], []
        for n, (name, kind, one) in enumerate(
            zip(self.columns, self._pg_types, single, strict=True), 1
        ):
            if one:
                selected.append(f"${n}::{kind}")
            else:
                arrays.append(f"${n}::{kind}[]")
                names.append(f'"{name}"')
                selected.append(f'u."{name}"')
        source = f" FROM unnest({', '.join(arrays)}) AS u({', '.join(names)})" if arrays else ""
        columns = ", ".join(f'"{name}"' for name in self.columns)
        return (
            f"INSERT INTO {self.table.name} ({columns}) "
            f"SELECT {', '.join(selected)}{source}{self.suffix}"
        )

    def pg_arrays(self, rows: Sequence[Row]) -> list[list[Any]]:
        return self._pg_arrays(map(self._complete, rows))

    def _pg_arrays(self, tuples: Iterable[tuple[Any, ...]]) -> list[list[Any]]:
        arrays = [list(column) for column in zip(*tuples, strict=True)]
        for index, convert in self._pg:
            arrays[index] = [None if v is None else convert(v) for v in arrays[index]]
        return arrays

    async def insert(self, bind: AsyncSession | AsyncConnection, rows: Sequence[Row]) -> int:
        """Insert ``rows`` in the transaction ``bind`` is in; the number of rows stored."""
        return await self._insert(bind, rows, self._complete)

    async def insert_records(
        self, bind: AsyncSession | AsyncConnection, records: Sequence[Any]
    ) -> int:
        """Insert objects with an attribute per column (no dict per row)."""
        return await self._insert(bind, records, self._attributes)

    async def _insert(
        self,
        bind: AsyncSession | AsyncConnection,
        rows: Sequence[Any],
        values: Callable[[Any], tuple[Any, ...]],
    ) -> int:
        """The number of rows stored: fewer than given when a suffix or a trigger (on
        PostgreSQL, ``events``' idempotency keys) skipped some."""
        if not rows:
            return 0
        conn = await bind.connection() if isinstance(bind, AsyncSession) else bind
        dialect = conn.dialect
        if dialect.name == "sqlite" and dialect.driver == "aiosqlite":
            raw = await conn.get_raw_connection()
            aiosqlite_conn: Any = raw.driver_connection
            cursor = await aiosqlite_conn.executemany(
                self.sqlite_sql, self._sqlite_values(map(values, rows))
            )
            return int(cursor.rowcount)
        if dialect.name == "postgresql" and dialect.driver == "asyncpg":
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            if not driver.is_in_transaction():
                # SQLAlchemy opens the driver's transaction on its first statement.
                await conn.execute(text("SELECT 1"))
            status = await driver.execute(self.pg_sql, *self._pg_arrays(map(values, rows)))
            return int(str(status).rsplit(" ", 1)[-1])  # "INSERT 0 <rows>"
        if self.suffix:
            raise NotImplementedError(f"no bulk upsert for {dialect.name}+{dialect.driver}")
        result = await conn.execute(
            insert(self.table),
            [dict(zip(self.columns, values(r), strict=True)) for r in rows],
        )
        return int(result.rowcount)
