"""Monthly partitions on PostgreSQL (migration 0023, ``referkit.db.partitions``): the migration
converts existing rows, the maintenance job makes the coming months (ours, or pg_partman's when
installed), retention drops whole months, and the queries of attribution and event ingestion
read only the partitions their rows can be in (``EXPLAIN ANALYZE`` of the statements the code
really sends). PostgreSQL only: SQLite keeps plain tables.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from referkit.attribution.repository import ClickRepository
from referkit.config import Settings
from referkit.db import migrate, partitions
from referkit.db.partitions import add_months, month_start, partition_name
from referkit.db.session import SessionFactory
from referkit.event.repository import EventRepository
from referkit.kit.ids import id_floor, id_time, new_id
from referkit.privacy.tasks import drop_aged_partitions
from referkit.referral.repository import ReferralRepository
from referkit.worker.runner import Worker
from tests.factories import Key, create_member, create_program
from tests.processes import PG_URL, throwaway_postgres

pytestmark = pytest.mark.skipif(not PG_URL, reason="REFERKIT_TEST_DATABASE_URL is not set")


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    assert PG_URL is not None
    with throwaway_postgres(PG_URL) as url:
        yield url


@pytest.fixture
async def conn(fresh_pg: str) -> AsyncIterator[AsyncConnection]:
    """A connection to a fresh database at head, committing each statement."""
    await migrate.upgrade(fresh_pg)
    engine = create_async_engine(fresh_pg, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def _where(conn: AsyncConnection, table: str, row_id: str) -> str:
    found = await conn.execute(
        text(f"SELECT tableoid::regclass::text FROM {table} WHERE id = :id"),  # noqa: S608
        {"id": row_id},
    )
    return str(found.scalar_one())


async def _workspace_of(conn: AsyncConnection, click_id: str) -> Any:
    query = text("SELECT workspace_id FROM clicks WHERE id = :id")
    return await conn.scalar(query, {"id": click_id})


def _id_at(prefix: str, at: datetime) -> str:
    """An id made at ``at``: its milliseconds, then a random part."""
    return id_floor(prefix, at)[:-16] + new_id(prefix)[-16:]


async def _click(conn: AsyncConnection, at: datetime, workspace_id: str | None = "ws_a") -> str:
    click_id = _id_at("clk", at)
    await conn.execute(
        text(
            "INSERT INTO clicks (id, workspace_id, livemode, code, visitor_hash, platform, "
            "is_bot, is_orphan, is_unique, created_at) "
            "VALUES (:id, :ws, true, 'c', 'h', 'web', false, :orphan, false, :at)"
        ),
        {"id": click_id, "ws": workspace_id, "orphan": workspace_id is None, "at": at},
    )
    return click_id


async def _event(conn: AsyncConnection, at: datetime, event_id: str, ws: str = "ws_a") -> int:
    result = await conn.execute(
        text(
            "INSERT INTO events (id, workspace_id, livemode, event_id, type, occurred_at, "
            "properties, outcome, created_at) "
            "VALUES (:id, :ws, true, :event_id, 'custom', :at, '{}', '{}', :at)"
        ),
        {"id": _id_at("evt", at), "ws": ws, "event_id": event_id, "at": at},
    )
    return int(result.rowcount)


async def test_the_migration_partitions_existing_rows_and_back(fresh_pg: str) -> None:
    await migrate.upgrade(fresh_pg, "0017_skan")
    now = datetime.now(UTC)
    old = month_start(now) - timedelta(days=70)  # two or three months back
    engine = create_async_engine(fresh_pg, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            kept = await _click(conn, old)
            orphan = await _click(conn, now, workspace_id=None)
            assert await _event(conn, old, "e-old") == 1
        await migrate.upgrade(fresh_pg)
        async with engine.connect() as conn:
            assert await _where(conn, "clicks", kept) == partition_name("clicks", month_start(old))
            assert await _where(conn, "clicks", orphan) == partition_name(
                "clicks", month_start(now)
            )
            assert await _workspace_of(conn, orphan) == ""
            for table in partitions.PARTITIONED:
                assert await partitions.is_partitioned(conn, table)
                first = month_start(old) if table != "app_clicks" else month_start(now)
                assert await partitions.months(conn, table) == [
                    add_months(first, n) for n in range(_months_between(first, now) + 4)
                ]
                key = await conn.scalar(
                    text(
                        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conname = :name AND contype = 'p'"
                    ),
                    {"name": f"pk_{table}"},
                )
                assert key == "PRIMARY KEY (workspace_id, id, created_at)"
            # Events' idempotency moved to event_keys: the old event id is still taken.
            assert await _event(conn, now, "e-old") == 0
            assert await _event(conn, now, "e-new") == 1
            assert await _event(conn, now, "e-new") == 0
            assert await _event(conn, now, "e-new", ws="ws_b") == 1
        await migrate.downgrade(fresh_pg, "0017_skan")
        async with engine.connect() as conn:
            assert not await partitions.is_partitioned(conn, "clicks")
            events = await conn.execute(text("SELECT workspace_id, event_id FROM events"))
            assert sorted(events.all()) == [("ws_a", "e-new"), ("ws_a", "e-old"), ("ws_b", "e-new")]
            assert await _workspace_of(conn, orphan) is None
        await migrate.upgrade(fresh_pg)
        await migrate.check(fresh_pg)
    finally:
        await engine.dispose()


def _months_between(first: datetime, last: datetime) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


async def test_the_job_makes_coming_months_and_takes_rows_from_the_default(
    conn: AsyncConnection,
) -> None:
    if await partitions.partman_schema(conn) is not None:
        pytest.skip("pg_partman is installed in the template database")
    later = add_months(month_start(datetime.now(UTC)), 8)
    stray = await _click(conn, later + timedelta(days=3))  # no partition yet: the default
    assert await _where(conn, "clicks", stray) == "clicks_default"

    done = await partitions.maintain(conn, later)
    assert done is not None
    assert done.maker == "referkit"
    assert partition_name("clicks", later) in done.created
    assert partition_name("events", add_months(later, 3)) in done.created
    assert await _where(conn, "clicks", stray) == partition_name("clicks", later)
    again = await partitions.maintain(conn, later)
    assert again is not None
    assert again.created == []


async def test_the_job_hands_the_tables_to_pg_partman_when_installed(
    conn: AsyncConnection,
) -> None:
    available = await conn.scalar(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman'")
    )
    if not available:
        pytest.skip("pg_partman is not installed on this server (postgresql-15-partman)")
    await conn.execute(text("CREATE SCHEMA partman"))
    await conn.execute(text("CREATE EXTENSION pg_partman SCHEMA partman"))
    now = datetime.now(UTC)
    later = add_months(month_start(now), 6)
    stray = await _click(conn, later)  # in the default partition: no month for it yet
    done = await partitions.maintain(conn, now)
    assert done is not None
    assert done.maker == "pg_partman"
    parents = (await conn.execute(text("SELECT parent_table FROM partman.part_config"))).all()
    assert {p for (p,) in parents} == {f"public.{t}" for t in partitions.PARTITIONED}
    # Nothing was lost handing over the default partition, and the row found its month.
    assert await _where(conn, "clicks", stray) == partition_name("clicks", later)
    assert await conn.scalar(text("SELECT count(*) FROM clicks_default")) == 0
    assert await partitions.maintain(conn, now) is not None


async def test_retention_drops_whole_months_only_when_no_row_must_stay(
    fresh_pg: str, conn: AsyncConnection
) -> None:
    now = datetime.now(UTC)
    old_month = add_months(month_start(now), -3)
    for ws, days in (("ws_short", 30), ("ws_long", None)):
        await conn.execute(
            text(
                "INSERT INTO workspaces (id, name, raw_detail_days, created_at) "
                "VALUES (:id, :id, :days, :at)"
            ),
            {"id": ws, "days": days, "at": old_month},
        )
    for table in ("clicks", "events"):
        await partitions.ensure_months(conn, table, old_month, now)
    await _click(conn, old_month + timedelta(days=2), workspace_id="ws_short")
    long_kept = await _click(conn, old_month + timedelta(days=3), workspace_id="ws_long")
    sessions = SessionFactory(create_async_engine(fresh_pg, poolclass=NullPool))
    old_clicks = partition_name("clicks", old_month)
    try:
        # ws_long keeps its detail for ever: its click holds that month of clicks; the months
        # without such a row go.
        first = await drop_aged_partitions(sessions, now)
        assert partition_name("events", old_month) in first
        assert old_clicks not in first
        assert await _where(conn, "clicks", long_kept) == old_clicks
        await conn.execute(text("UPDATE workspaces SET raw_detail_days = 60 WHERE id = 'ws_long'"))
        assert old_clicks in await drop_aged_partitions(sessions, now)
        assert not (await conn.execute(text("SELECT 1 FROM clicks"))).all()
        # The current month is never dropped.
        assert month_start(now) in await partitions.months(conn, "clicks")
    finally:
        await sessions.engine.dispose()


# Pruning ----------------------------------------------------------------------------------


def _touched(plan: dict[str, Any]) -> set[str]:
    """Relations a plan node under ``plan`` actually read (``Actual Loops`` > 0)."""
    found = set()
    if plan.get("Relation Name") and plan.get("Actual Loops", 0) > 0:
        found.add(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found |= _touched(child)
    return found


async def _expected(conn: AsyncConnection, table: str, low: datetime, high: datetime) -> set[str]:
    """The partitions rows of ``[low, high]`` can be in: their months, and the default
    partition when one of those months has no partition."""
    have = set(await partitions.months(conn, table))
    wanted, month = set(), month_start(low)
    while month <= high:
        wanted.add(partition_name(table, month) if month in have else f"{table}_default")
        month = add_months(month, 1)
    return wanted


class Statements:
    """Every statement the engine sends, with its parameters, while active."""

    def __init__(self, app: FastAPI) -> None:
        self.engine = app.state.sessions.engine.sync_engine
        self.seen: list[tuple[str, Any]] = []

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        self.seen.append((statement, params))

    def on(self, table: str) -> tuple[str, Any]:
        (found,) = [(s, p) for s, p in self.seen if re.search(rf"FROM {table}\b", s)]
        return found


async def _explain(app: FastAPI, statement: tuple[str, Any]) -> set[str]:
    sql, params = statement
    async with app.state.sessions(write=False) as session:
        conn = await session.connection()
        result = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        (plan,) = result.scalar_one()
        return _touched(plan["Plan"])


@pytest.fixture
async def traffic(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> tuple[str, str, dict[str, Any]]:
    if app.state.sessions.engine.dialect.name != "postgresql":
        pytest.skip("partitions are PostgreSQL's")
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
    response = await client.get(f"/r/{member['referral_code']}", headers={"user-agent": browser})
    click_id = parse_qs(urlsplit(response.headers["location"]).query)["rk_click"][0]
    body = {"event_id": f"e-{uuid.uuid4().hex}", "type": "custom", "name": "opened"}
    stored = await client.post("/api/v1/events", json=body, headers=key.headers)
    assert stored.status_code == 201, stored.text
    return click_id, str(response.cookies.get("rk_vid")), stored.json()


async def test_lookups_by_click_id_read_one_month(
    app: FastAPI, key: Key, traffic: tuple[str, str, dict[str, Any]]
) -> None:
    click_id, _, _ = traffic
    at = id_time(click_id)
    with Statements(app) as statements:
        async with app.state.sessions(write=False) as session:
            assert await ClickRepository(session).get(key.workspace_id, True, click_id)
            assert await ReferralRepository(session).click_visitor_id(
                key.workspace_id, True, click_id
            )
    async with app.state.sessions.engine.connect() as conn:
        wanted = await _expected(conn, "clicks", at - timedelta(days=1), at + timedelta(days=1))
    first, second = [s for s in statements.seen if "FROM clicks" in s[0]]
    assert await _explain(app, first) == wanted
    assert await _explain(app, second) == wanted


async def test_attribution_window_reads_its_months_only(
    app: FastAPI, key: Key, traffic: tuple[str, str, dict[str, Any]]
) -> None:
    _, visitor, _ = traffic
    until = datetime.now(UTC)
    since = until - timedelta(days=40)
    with Statements(app) as statements:
        async with app.state.sessions(write=False) as session:
            found = await ClickRepository(session).for_visitor(
                key.workspace_id, True, visitor, since, until
            )
            assert len(found) == 1
    async with app.state.sessions.engine.connect() as conn:
        wanted = await _expected(conn, "clicks", since, until)
        every = {f"clicks_{n}" for n in ("default",)} | {
            partition_name("clicks", m) for m in await partitions.months(conn, "clicks")
        }
    touched = await _explain(app, statements.on("clicks"))
    assert touched == wanted
    assert touched < every  # the months ahead are never read


async def test_replays_find_their_event_in_one_partition(
    app: FastAPI, key: Key, traffic: tuple[str, str, dict[str, Any]]
) -> None:
    _, _, stored = traffic
    with Statements(app) as statements:
        async with app.state.sessions(write=False) as session:
            (found,) = await EventRepository(session).by_event_ids(
                key.workspace_id, True, [stored["event_id"]]
            )
            assert found.id == stored["id"]
    at = id_time(stored["id"])
    async with app.state.sessions.engine.connect() as conn:
        month = partition_name("events", month_start(at))
        assert month_start(at) in await partitions.months(conn, "events")
    # One probe of event_keys' primary key, then of the event's month only.
    assert await _explain(app, statements.on("event_keys")) == {"event_keys"}
    assert await _explain(app, statements.on("events")) == {month}


async def test_the_worker_runs_the_job(app: FastAPI, settings: Settings) -> None:
    worker = Worker(app.state.sessions, settings)
    try:
        done = await worker.maintain_partitions()
    finally:
        await worker.aclose()
    if app.state.sessions.engine.dialect.name == "sqlite":
        assert done is None  # plain tables
        return
    assert done is not None
    async with app.state.sessions.engine.connect() as conn:
        ahead = add_months(month_start(datetime.now(UTC)), partitions.PREMAKE_MONTHS)
        for table in partitions.PARTITIONED:
            assert ahead in await partitions.months(conn, table)
