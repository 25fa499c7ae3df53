"""Monthly partitions of the append-only tables on PostgreSQL (SQLite keeps plain tables).

``clicks``, ``events`` and ``app_clicks`` are ``PARTITION BY RANGE (created_at)``, one partition
per calendar month (UTC) named ``<table>_pYYYY_MM`` (pg_partman's name for monthly partitions,
so both makers agree), plus ``<table>_default`` as a safety net for a row whose month has no
partition yet. Their primary key is ``(workspace_id, id, created_at)``: PostgreSQL needs the
partition column in every unique key, and Citus needs the distribution column.

Future months are made ahead of time by the worker (``maintain``): through pg_partman when the
extension is installed in the database, else by ``ensure_months`` here. Either way a row
never lacks a home (the default partition), and a month is created with the rows the default
partition already holds for it moved in.

Ids are time-sortable and drawn when ``created_at`` is set, so a lookup by id can add
``created_at`` bounds (``created_near``) and read one partition, two at a month's edge.
"""

# ruff: noqa: S608  (SQL is built from table names in PARTITIONED and computed months only)

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    MetaData,
    String,
    Table,
    and_,
    any_,
    bindparam,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from referkit.kit.ids import id_time

logger = logging.getLogger("referkit.partitions")

PARTITIONED = ("clicks", "events", "app_clicks")
PREMAKE_MONTHS = 3
# Rows get their id and created_at from one clock read (a few ms apart at most); a day of slack
# still lets a lookup by id prune to the month of its id (two months at a month's edge).
ID_SLACK = timedelta(days=1)
# PostgreSQL only (migration 0023), so outside the models' metadata: events' idempotency keys.
EVENT_KEYS = Table(
    "event_keys",
    MetaData(),
    Column("workspace_id", String(40), primary_key=True),
    Column("livemode", Boolean, primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("id", String(40)),
    Column("created_at", DateTime(timezone=True)),
)
_PARTITION = re.compile(r"^(?P<table>[a-z_]+)_p(?P<year>\d{4})_(?P<month>\d{2})$")


def month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def add_months(month: datetime, count: int) -> datetime:
    index = month.year * 12 + month.month - 1 + count
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_p{month.year:04d}_{month.month:02d}"


def partition_month(name: str) -> tuple[str, datetime] | None:
    """``("clicks", 2026-12-01)`` for ``clicks_p2026_12``; None for anything else."""
    found = _PARTITION.match(name)
    if found is None or found["table"] not in PARTITIONED:
        return None
    return found["table"], datetime(int(found["year"]), int(found["month"]), 1, tzinfo=UTC)


def is_partition_of_ours(name: str) -> bool:
    """A child table of a partitioned table (or pg_partman's template of one)."""
    if partition_month(name) is not None:
        return True
    return any(name in (f"{t}_default", f"template_public_{t}") for t in PARTITIONED)


def created_near(created_at: Any, row_id: str) -> ColumnElement[bool]:
    """``created_at`` bounds implied by a time-sortable id, so PostgreSQL reads one partition."""
    at = id_time(row_id)
    return and_(created_at >= at - ID_SLACK, created_at < at + ID_SLACK)


async def event_keys(
    session: AsyncSession, workspace_id: str, livemode: bool, event_ids: list[str]
) -> list[tuple[str, datetime]]:
    """The (id, created_at) of the stored events among ``event_ids`` (PostgreSQL): one probe of
    ``event_keys``' primary key each, since the partitioned events table has no index on
    ``event_id``. ``stored_at`` then turns them into conditions that prune to their months."""
    keys = EVENT_KEYS.c
    rows = await session.execute(
        select(keys.id, keys.created_at).where(
            keys.workspace_id == workspace_id,
            keys.livemode == livemode,
            keys.event_id == any_(bindparam("event_ids", event_ids, type_=ARRAY(String))),
        )
    )
    return [(row[0], row[1]) for row in rows]


def stored_at(events: Any, found: list[tuple[str, datetime]]) -> list[ColumnElement[bool]]:
    """Conditions for the events ``event_keys`` found: their ids, and their times as an array
    parameter, which PostgreSQL prunes partitions with."""
    ids = bindparam("stored_ids", [i for i, _ in found], type_=ARRAY(String))
    times = bindparam("stored_times", [t for _, t in found], type_=ARRAY(DateTime(timezone=True)))
    return [events.c.id == any_(ids), events.c.created_at == any_(times)]


def create_month_sql(table: str, month: datetime) -> list[str]:
    """Statements that add ``month`` to ``table``, taking over the default partition's rows of
    that month (attaching over them would fail)."""
    name = partition_name(table, month)
    low, high = month.isoformat(), add_months(month, 1).isoformat()
    bounds = f"FOR VALUES FROM ('{low}') TO ('{high}')"
    in_month = f"created_at >= '{low}' AND created_at < '{high}'"
    return [
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)",
        f"WITH moved AS (DELETE FROM {table}_default WHERE {in_month} RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved",
        f"ALTER TABLE {table} ATTACH PARTITION {name} {bounds}",
    ]


async def _scalar(conn: AsyncConnection, sql: str, **params: Any) -> Any:
    return (await conn.execute(text(sql), params)).scalar()


async def is_partitioned(conn: AsyncConnection, table: str) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    found = await _scalar(
        conn,
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = :table AND c.relnamespace = 'public'::regnamespace",
        table=table,
    )
    return found is not None


async def months(conn: AsyncConnection, table: str) -> list[datetime]:
    """The months ``table`` has a partition for, oldest first."""
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:table AS regclass)"
        ),
        {"table": f"public.{table}"},
    )
    found = [partition_month(name) for (name,) in rows]
    return sorted(month for hit in found if hit is not None for month in [hit[1]])


async def ensure_months(
    conn: AsyncConnection, table: str, first: datetime, last: datetime
) -> list[str]:
    """Create every missing month of ``table`` from ``first`` to ``last`` (inclusive)."""
    have = set(await months(conn, table))
    made = []
    month = month_start(first)
    while month <= last:
        if month not in have:
            for statement in create_month_sql(table, month):
                await conn.execute(text(statement))
            made.append(partition_name(table, month))
        month = add_months(month, 1)
    return made


async def partman_schema(conn: AsyncConnection) -> str | None:
    """The schema pg_partman is installed in, in this database; None without it."""
    if conn.dialect.name != "postgresql":
        return None
    schema = await _scalar(
        conn,
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_partman'",
    )
    return str(schema) if schema is not None else None


async def _partman_register(conn: AsyncConnection, schema: str, table: str) -> None:
    """Hand ``table`` to pg_partman. Its ``create_parent`` makes the default partition itself,
    so ours is detached first and its rows (normally none) put back through the parent."""
    registered = await _scalar(
        conn,
        f"SELECT 1 FROM {schema}.part_config WHERE parent_table = :parent",
        parent=f"public.{table}",
    )
    if registered:
        return
    await conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {table}_default"))
    await conn.execute(text(f"ALTER TABLE {table}_default RENAME TO {table}_default_old"))
    await conn.execute(
        text(
            f"SELECT {schema}.create_parent(:parent, 'created_at', 'native', 'monthly', "
            f"p_premake := {PREMAKE_MONTHS})"
        ),
        {"parent": f"public.{table}"},
    )
    await conn.execute(text(f"INSERT INTO {table} SELECT * FROM {table}_default_old"))
    await conn.execute(text(f"DROP TABLE {table}_default_old"))


@dataclass
class Maintenance:
    maker: str  # "pg_partman" or "referkit"
    created: list[str]


async def maintain(conn: AsyncConnection, now: datetime) -> Maintenance | None:
    """Make sure every partitioned table has its months up to ``PREMAKE_MONTHS`` ahead.
    None on SQLite or before the partitioning migration."""
    tables = [t for t in PARTITIONED if await is_partitioned(conn, t)]
    if not tables:
        return None
    # Workers run this at once when started together: one at a time, the others find it done.
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('referkit.partitions'))"))
    schema = await partman_schema(conn)
    if schema is not None:
        before = {t: set(await months(conn, t)) for t in tables}
        for table in tables:
            await _partman_register(conn, schema, table)
            if await _scalar(conn, f"SELECT 1 FROM {table}_default LIMIT 1"):
                # pg_partman attaches no month over rows of the default partition: move them
                # into their months first (it makes those months as it goes).
                await conn.execute(
                    text(f"SELECT {schema}.partition_data_time(:parent, p_batch_count := 1000)"),
                    {"parent": f"public.{table}"},
                )
            await conn.execute(
                text(f"SELECT {schema}.run_maintenance(:parent)"), {"parent": f"public.{table}"}
            )
        created = [
            partition_name(t, m)
            for t in tables
            for m in await months(conn, t)
            if m not in before[t]
        ]
        return Maintenance("pg_partman", created)
    this_month = month_start(now)
    created = []
    for table in tables:
        created += await ensure_months(
            conn, table, this_month, add_months(this_month, PREMAKE_MONTHS)
        )
    return Maintenance("referkit", created)


async def drop_month(conn: AsyncConnection, table: str, month: datetime) -> None:
    """Detach and drop one month of ``table`` (the caller decided nothing in it must stay)."""
    name = partition_name(table, month)
    await conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
    await conn.execute(text(f"DROP TABLE {name}"))
    if table == "events":
        # The idempotency keys of the dropped events go with them (see referkit.db.event_keys).
        await conn.execute(
            text("DELETE FROM event_keys WHERE created_at >= :low AND created_at < :high"),
            {"low": month, "high": add_months(month, 1)},
        )


async def holds_any(
    conn: AsyncConnection, table: str, month: datetime, workspaces: list[str]
) -> bool:
    """Whether the partition of ``month`` holds a row of one of ``workspaces`` (one probe of
    its primary key, which starts with ``workspace_id``)."""
    if not workspaces:
        return False
    name = partition_name(table, month)
    found = await _scalar(
        conn,
        f"SELECT 1 FROM {name} WHERE workspace_id = ANY(:ids) LIMIT 1",
        ids=workspaces,
    )
    return found is not None


def drift_skips(kind: str, name: str | None, table: str | None) -> bool:
    """What the drift check must not compare on PostgreSQL, where the models (shared with
    SQLite) describe the tables before partitioning: the partitions themselves and the
    ``event_keys`` table that replaces events' unique constraint."""
    if kind == "table":
        return name == "event_keys" or (name is not None and is_partition_of_ours(name))
    return kind == "unique_constraint" and name == "uq_events_workspace_id_livemode_event_id"
