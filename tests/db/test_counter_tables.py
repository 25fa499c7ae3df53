"""The counter rollup tables (migration 0027): upserts stay heap-only on PostgreSQL.

A counter update is heap-only (no new index entries; its dead version pruned on the page) only
when no index holds a column it changes and the page has room: the models declare the storage
parameters (``COUNTER_TABLE_STORAGE``), the migration sets them, and no index may hold a
counter.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import BigInteger, Table, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import referkit.models  # noqa: F401  (registers every table on the metadata)
from referkit.db import migrate
from referkit.db.base import COUNTER_TABLE_STORAGE, Base
from referkit.stats.app_rollups import AppRollupBuffer
from tests.processes import PG_URL, throwaway_postgres

COUNTER_TABLES = {"rollups", "app_rollups", "reward_rollups", "dimension_rollups"}
# The leaderboard reads member buckets best first: updates that change these are not heap-only.
INDEXED_COUNTERS = {"ix_rollups_leaderboard": {"qualified", "referrals", "reach"}}


def _storage(table: Table) -> dict[str, float | int] | None:
    options: dict[str, float | int] | None = table.dialect_options["postgresql"]["with"]
    return options


def test_the_counter_tables_are_the_tables_declaring_the_storage() -> None:
    declared = {
        name
        for name, table in Base.metadata.tables.items()
        if _storage(table) == COUNTER_TABLE_STORAGE
    }
    assert declared == COUNTER_TABLES


@pytest.mark.parametrize("name", sorted(COUNTER_TABLES))
def test_no_index_holds_a_counter(name: str) -> None:
    table = Base.metadata.tables[name]
    key = {column.name for column in table.primary_key.columns}
    counters = {
        column.name
        for column in table.columns
        if isinstance(column.type, BigInteger) and column.name not in key
    }
    assert counters
    assert not counters & key
    for index in table.indexes:
        held = {column.name for column in index.columns} & counters
        assert held == INDEXED_COUNTERS.get(str(index.name), set()), index.name


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("REFERKIT_TEST_DATABASE_URL is not set")
    with throwaway_postgres(PG_URL) as url:
        yield url


async def _reloptions(url: str) -> dict[str, dict[str, str]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:names)"),
                {"names": sorted(COUNTER_TABLES)},
            )
            return {
                name: dict(option.split("=", 1) for option in options or [])
                for name, options in rows
            }
    finally:
        await engine.dispose()


async def test_migration_sets_and_resets_the_storage(fresh_postgres: str) -> None:
    expected = {name: str(value) for name, value in COUNTER_TABLE_STORAGE.items()}
    await migrate.upgrade(fresh_postgres)
    assert await _reloptions(fresh_postgres) == dict.fromkeys(COUNTER_TABLES, expected)

    await migrate.downgrade(fresh_postgres, "0026_heldindex")
    assert await _reloptions(fresh_postgres) == {name: {} for name in COUNTER_TABLES}

    await migrate.upgrade(fresh_postgres)
    assert await _reloptions(fresh_postgres) == dict.fromkeys(COUNTER_TABLES, expected)


async def test_an_app_rollup_upsert_is_heap_only(fresh_postgres: str) -> None:
    await migrate.upgrade(fresh_postgres)
    engine = create_async_engine(fresh_postgres, poolclass=NullPool)

    def buffer() -> AppRollupBuffer:
        rows = AppRollupBuffer()
        rows.add(
            workspace_id="ws_1",
            livemode=True,
            app_id="app_1",
            day=date(2026, 12, 6),
            link_id="lnk_1",
            network="meta",
            campaign="spring",
            installs=1,
        )
        return rows

    try:
        async with engine.begin() as conn:
            await buffer().write(conn)
        async with engine.begin() as conn:
            await buffer().write(conn)
            hot, updated = (
                await conn.execute(
                    text(
                        "SELECT pg_stat_get_xact_tuples_hot_updated(oid), "
                        "pg_stat_get_xact_tuples_updated(oid) FROM pg_class "
                        "WHERE relname = 'app_rollups'"
                    )
                )
            ).one()
            total = await conn.scalar(text("SELECT sum(installs) FROM app_rollups"))
        # Four rows (the app, its link, network and campaign), each updated once, in place.
        assert (hot, updated, total) == (4, 4, 8)
    finally:
        await engine.dispose()
