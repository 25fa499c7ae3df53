"""The click batch writers: one transaction, the reach marks, one multi-row click insert and
one rollup upsert for every click of a batch (see ``referkit.db.batcher``).

``SqliteClickWriter`` runs the batch as plain ``sqlite3`` calls on the writer thread (SQL built
once from the models); ``ClickWriter`` goes through SQLAlchemy (PostgreSQL). Both decide reach
the same way: the first click of a batch whose reach mark is new counts. A process remembers the
marks it committed this hour, so a returning visitor costs no database probe; the table stays
the authority for every other key.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from referkit.db.bulk import BulkInsert, sqlite_datetime
from referkit.db.engine import write_engine
from referkit.db.pg_direct import DirectConnections
from referkit.db.sqlite_writer import SqliteWriter
from referkit.link.cache import announce
from referkit.link.changes import LinkChanges
from referkit.link.repository import insert_clicks, new_reach_marks
from referkit.models import AppClick, Click, ReachMark
from referkit.stats.app_rollups import APP_UPSERT, app_click_deltas
from referkit.stats.dimensions import (
    CLICK_DIMENSIONS,
    DIMENSION_UPSERT,
    click_deltas,
)
from referkit.stats.dimensions import COUNTERS as DIMENSION_COUNTERS
from referkit.stats.dimensions import KEY as DIMENSION_KEY
from referkit.stats.rollups import (
    ALL_TIME,
    COUNTERS,
    KEY,
    MEMBER_ALL,
    MEMBER_MONTH,
    UPSERT,
    RollupBuffer,
)

_SEEN_LIMIT = 200_000
_MARK_COLUMNS = ("key", "workspace_id", "created_at")
CLICKS = BulkInsert(cast(Table, Click.__table__))
APP_CLICKS = BulkInsert(cast(Table, AppClick.__table__))


def reach_hour(now: datetime) -> int:
    return int(now.timestamp()) // 3600


def reach_key(vhash: str, link_id: str, now: datetime) -> str:
    """One reach per visitor per link per UTC hour. The hour leads the key, so marks of past
    hours are one primary-key range (``purge_reach_marks``). Each mark is stored with its
    link's workspace (``reach_marks``' key carries it)."""
    digest = hashlib.blake2b(f"{vhash}|{link_id}".encode(), digest_size=16).hexdigest()
    return f"{reach_hour(now):08d}:{digest}"


@dataclass(frozen=True, slots=True)
class ClickJob:
    row: dict[str, Any]
    """A ``clicks`` row, ``is_unique`` left for the writer to decide."""
    reach_key: str | None
    """Hash of (visitor, link, hour) for countable clicks; None for bots and orphans."""
    app: dict[str, Any] | None = None
    """The ``app_clicks`` row of a click on an app link (None for every other click)."""


def app_rows(jobs: Sequence[ClickJob]) -> list[dict[str, Any]]:
    """The batch's ``app_clicks`` rows; usually none, and then nothing more is written."""
    return [job.app for job in jobs if job.app is not None]


def job_apps(jobs: Sequence[ClickJob]) -> list[dict[str, Any] | None] | None:
    """Each job's app row in job order, or None when the batch has no app click."""
    if all(job.app is None for job in jobs):
        return None
    return [job.app for job in jobs]


class SeenMarks:
    """Reach marks this process has committed (bounded; cleared when full)."""

    def __init__(self) -> None:
        self._keys: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def add(self, keys: set[str]) -> None:
        if len(self._keys) + len(keys) > _SEEN_LIMIT:
            self._keys.clear()
        self._keys |= keys


def _candidates(jobs: Sequence[ClickJob], seen: SeenMarks) -> dict[str, dict[str, Any]]:
    """Reach marks worth probing (``reach_marks`` rows by key): one per key, skipping those
    already committed. A key names its link, and so its workspace."""
    marks: dict[str, dict[str, Any]] = {}
    for job in jobs:
        key = job.reach_key
        if key is not None and key not in marks and key not in seen:
            marks[key] = {
                "key": key,
                "workspace_id": job.row["workspace_id"],
                "created_at": job.row["created_at"],
            }
    return marks


def _decide(jobs: Sequence[ClickJob], fresh: set[str]) -> tuple[list[dict[str, Any]], RollupBuffer]:
    """The rows to insert (``is_unique`` set) and their rollup deltas."""
    rows = []
    tally: Counter[tuple[Any, ...]] = Counter()
    unclaimed = set(fresh)
    for job in jobs:
        row = job.row
        unique = job.reach_key is not None and job.reach_key in unclaimed
        if unique:
            unclaimed.discard(job.reach_key)  # the first click of the batch takes it
        row["is_unique"] = unique
        rows.append(row)
        if not row["is_orphan"] and row["workspace_id"] is not None:
            tally[
                (
                    row["workspace_id"],
                    row["livemode"],
                    row["created_at"].date(),
                    row["program_id"],
                    row["member_id"],
                    row["link_id"],
                    row["is_bot"],
                    unique,
                )
            ] += 1
    rollups = RollupBuffer()
    for (
        workspace_id,
        livemode,
        day,
        program_id,
        member_id,
        link_id,
        bot,
        unique,
    ), n in tally.items():
        rollups.add_day(
            workspace_id=workspace_id,
            livemode=livemode,
            day=day,
            program_id=program_id,
            member_id=member_id,
            link_id=link_id,
            clicks=0 if bot else n,
            bot_clicks=n if bot else 0,
            reach=n if unique else 0,
        )
    return rows, rollups


def announce_counted(jobs: Sequence[ClickJob]) -> None:
    """After a batch committed: the members whose dashboard numbers it changed (every counted
    click of a member's link), so no process shows them the numbers from before it."""
    members = {
        row["member_id"]
        for row in (job.row for job in jobs)
        if row["member_id"] is not None and not row["is_bot"] and not row["is_orphan"]
    }
    if members:
        announce(LinkChanges(dashboards=members))


class ClickWriter:
    """Through SQLAlchemy: the portable path (any database without a faster writer)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = write_engine(engine)
        self.seen = SeenMarks()

    async def __call__(self, jobs: Sequence[ClickJob]) -> Sequence[str | BaseException]:
        marks = _candidates(jobs, self.seen)
        # This transaction is the batch's own (the batcher is the hot-path commit boundary).
        async with self.engine.begin() as conn:
            fresh = await new_reach_marks(conn, list(marks.values()))
            rows, rollups = _decide(jobs, fresh)
            await insert_clicks(conn, rows)
            await rollups.write(conn)
            await click_deltas(rows, job_apps(jobs)).write(conn)
            apps = app_rows(jobs)
            if apps:
                await APP_CLICKS.insert(conn, apps)
                await app_click_deltas(apps).write(conn)
        self.seen.add(fresh)
        announce_counted(jobs)
        return [job.row["id"] for job in jobs]


def _pg_batch_sql() -> str:
    """One statement for a whole batch on PostgreSQL (one round trip, committed on its own):
    the new reach marks, the clicks with ``is_unique`` decided from them (the first click of a
    batch per new mark), the rollup deltas — the same buckets ``RollupBuffer`` writes
    (``test_rollups_match_on_both_writers`` holds the two to each other) — and the dimension
    rollup deltas ``click_deltas`` would write (``test_dimension_rollups_match_on_all_writers``)."""
    names = CLICKS.columns
    arrays = CLICKS.pg_unnest_args
    reach_param = len(names) + 1
    day = "to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    month = "to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM')"
    buckets = ", ".join(
        [
            f"('program', d.program_id, {day})",
            f"('member', d.member_id, {day})",
            f"('link', d.link_id, {day})",
            f"('{MEMBER_MONTH}', d.member_id, {month})",
            f"('{MEMBER_ALL}', d.member_id, '{ALL_TIME}')",
        ]
    )
    others = ", ".join("0" for name in COUNTERS if name not in ("clicks", "bot_clicks", "reach"))
    click_columns = ", ".join(f'"{name}"' for name in names)
    selected = ", ".join("d.unique_" if name == "is_unique" else f'd."{name}"' for name in names)
    updates = ", ".join(
        f"{name} = rollups.{name} + excluded.{name}" for name in ("clicks", "bot_clicks", "reach")
    )
    groups = ", ".join(f"('{name}', d.{column})" for name, column in CLICK_DIMENSIONS)
    dimension_updates = ", ".join(
        f"{name} = dimension_rollups.{name} + excluded.{name}" for name in ("clicks", "reach")
    )
    return f"""
WITH batch AS (
    SELECT * FROM unnest({arrays}, ${reach_param}::varchar[]) WITH ORDINALITY
        AS b({click_columns}, reach_key, n)
), marks AS (
    INSERT INTO reach_marks (key, workspace_id, created_at)
    SELECT reach_key, workspace_id, min(created_at) FROM batch WHERE reach_key IS NOT NULL
    GROUP BY reach_key, workspace_id
    ON CONFLICT (key, workspace_id) DO NOTHING
    RETURNING key, workspace_id
), firsts AS (
    SELECT min(b.n) AS n FROM batch b
    JOIN marks m ON m.key = b.reach_key AND m.workspace_id = b.workspace_id
    GROUP BY b.reach_key
), decided AS (
    SELECT b.*, b.n IN (SELECT n FROM firsts) AS unique_ FROM batch b
), stored AS (
    INSERT INTO clicks ({click_columns}) SELECT {selected} FROM decided d
), counted AS (
    INSERT INTO rollups (scope, scope_id, day, currency, workspace_id, livemode, program_id,
                         {", ".join(COUNTERS)})
    SELECT s.scope, s.scope_id, s.bucket, '', d.workspace_id, d.livemode, d.program_id,
           count(*) FILTER (WHERE NOT d.is_bot), count(*) FILTER (WHERE d.is_bot),
           count(*) FILTER (WHERE d.unique_), {others}
    FROM decided d CROSS JOIN LATERAL (VALUES {buckets}) AS s(scope, scope_id, bucket)
    WHERE NOT d.is_orphan AND d.workspace_id IS NOT NULL AND s.scope_id IS NOT NULL
    GROUP BY s.scope, s.scope_id, s.bucket, d.workspace_id, d.livemode, d.program_id
    ORDER BY s.scope, s.scope_id, s.bucket
    ON CONFLICT ({", ".join(KEY)}) DO UPDATE SET {updates}
), grouped AS (
    INSERT INTO dimension_rollups ({", ".join(DIMENSION_KEY)}, livemode,
                                   {", ".join(DIMENSION_COUNTERS)})
    SELECT d.workspace_id, s.scope, s.scope_id, g.dimension, {day}, coalesce(g.value, ''), '',
           d.livemode, count(*), count(*) FILTER (WHERE d.unique_), 0, 0, 0
    FROM decided d
    CROSS JOIN LATERAL (VALUES ('link', d.link_id), ('program', d.program_id))
        AS s(scope, scope_id)
    CROSS JOIN LATERAL (VALUES {groups}) AS g(dimension, value)
    WHERE NOT d.is_bot AND NOT d.is_orphan AND d.workspace_id IS NOT NULL
        AND s.scope_id IS NOT NULL
    GROUP BY d.workspace_id, s.scope, s.scope_id, g.dimension, {day}, coalesce(g.value, ''),
             d.livemode
    ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT ({", ".join(DIMENSION_KEY)}) DO UPDATE SET {dimension_updates}
)
SELECT key FROM marks"""  # noqa: S608


class PostgresClickWriter:
    """On asyncpg directly: the whole batch as one statement of column arrays, encoded in C,
    committed on its own (see ``referkit.db.pg_direct``)."""

    def __init__(self, connections: DirectConnections) -> None:
        self.connections = connections
        self.seen = SeenMarks()
        self._sql = _pg_batch_sql()

    async def __call__(self, jobs: Sequence[ClickJob]) -> Sequence[str | BaseException]:
        seen = self.seen
        rows = [job.row for job in jobs]  # is_unique: the statement decides, the array is unused
        for row in rows:
            row["is_unique"] = False
        # Marks this process committed are known not to be new: the database skips them.
        keys = [
            None if job.reach_key is None or job.reach_key in seen else job.reach_key
            for job in jobs
        ]
        apps = app_rows(jobs)
        async with self.connections.connection() as conn:
            if not apps:
                found = await conn.fetch(self._sql, *CLICKS.pg_arrays(rows), keys)
            else:
                # App clicks add their own rows: one transaction for the three statements.
                async with conn.transaction():
                    found = await conn.fetch(self._sql, *CLICKS.pg_arrays(rows), keys)
                    await conn.execute(APP_CLICKS.pg_sql, *APP_CLICKS.pg_arrays(apps))
                    deltas = app_click_deltas(apps).sorted_rows()
                    if deltas:
                        await conn.execute(APP_UPSERT.pg_sql, *APP_UPSERT.pg_arrays(deltas))
                    fresh = {record[0] for record in found}
                    groups = click_deltas(
                        _decide(jobs, fresh)[0], job_apps(jobs), only_apps=True
                    ).sorted_rows()
                    if groups:
                        await conn.execute(
                            DIMENSION_UPSERT.pg_sql, *DIMENSION_UPSERT.pg_arrays(groups)
                        )
        self.seen.add({record[0] for record in found})
        announce_counted(jobs)
        return [job.row["id"] for job in jobs]


class SqliteClickWriter:
    """As plain ``sqlite3`` calls on the writer thread: used on SQLite."""

    def __init__(self, writer: SqliteWriter) -> None:
        self.writer = writer
        self.seen = SeenMarks()
        marks = (
            sqlite.insert(cast(Table, ReachMark.__table__))
            .values({name: bindparam(name) for name in _MARK_COLUMNS})
            .on_conflict_do_nothing(index_elements=["key", "workspace_id"])
        )
        self._mark_sql = str(marks.compile(dialect=sqlite.dialect(paramstyle="named")))

    async def __call__(self, jobs: Sequence[ClickJob]) -> Sequence[str | BaseException]:
        marks = _candidates(jobs, self.seen)
        apps = app_rows(jobs)
        per_job = job_apps(jobs)

        def work(conn: sqlite3.Connection) -> set[str]:
            fresh = {
                key
                for key, mark in marks.items()
                if conn.execute(
                    self._mark_sql, {**mark, "created_at": sqlite_datetime(mark["created_at"])}
                ).rowcount
                == 1
            }
            rows, rollups = _decide(jobs, fresh)
            conn.executemany(CLICKS.sqlite_sql, CLICKS.sqlite_values(rows))
            conn.executemany(UPSERT.sqlite_sql, UPSERT.sqlite_values(rollups.sorted_rows()))
            groups = click_deltas(rows, per_job).sorted_rows()
            conn.executemany(DIMENSION_UPSERT.sqlite_sql, DIMENSION_UPSERT.sqlite_values(groups))
            if apps:
                conn.executemany(APP_CLICKS.sqlite_sql, APP_CLICKS.sqlite_values(apps))
                deltas = app_click_deltas(apps).sorted_rows()
                conn.executemany(APP_UPSERT.sqlite_sql, APP_UPSERT.sqlite_values(deltas))
            return fresh

        fresh = await self.writer.transaction(work)
        self.seen.add(fresh)
        announce_counted(jobs)
        return [job.row["id"] for job in jobs]
