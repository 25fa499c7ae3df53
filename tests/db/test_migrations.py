"""Migrations on a fresh database of each backend: up, drift check, down, up again; the drift
check catches hand-made schema changes; and the ``referkit db`` commands as real processes.

Every test gets its own empty database (a SQLite file, or a PostgreSQL database created on the
server of ``REFERKIT_TEST_DATABASE_URL`` and dropped afterwards), never the shared test one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import referkit.models  # noqa: F401  (registers every table on the metadata)
from referkit.db import migrate
from referkit.db.base import Base
from referkit.db.partitions import drift_skips
from tests.processes import PG_URL, cli_env, run_cli, throwaway_postgres

HEAD = migrate.head_revision()
MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database nobody else uses."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    if not PG_URL:
        pytest.skip("REFERKIT_TEST_DATABASE_URL is not set")
    with throwaway_postgres(PG_URL) as url:
        yield url


async def table_names(url: str) -> set[str]:
    """The tables, less the monthly partitions and the PostgreSQL-only ``event_keys`` (what
    migration 0023 adds on PostgreSQL; tests/db/test_partitions.py checks them)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            names: list[str] = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
            return {name for name in names if not drift_skips("table", name, None)}
    finally:
        await engine.dispose()


async def execute(url: str, *statements: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


def test_there_is_one_head_and_it_is_not_empty() -> None:
    # Two heads (parallel branches) would make `upgrade head` ambiguous.
    assert ScriptDirectory.from_config(migrate.alembic_config()).get_heads() == [HEAD]
    assert HEAD is not None
    assert {"workspaces", "api_keys", "programs", "members", "referrals"} <= MODEL_TABLES


async def test_upgrade_check_downgrade_and_upgrade_again(fresh_url: str) -> None:
    assert await migrate.current(fresh_url) is None
    with pytest.raises(migrate.SchemaDrift, match="empty schema"):
        await migrate.check(fresh_url)

    await migrate.upgrade(fresh_url)
    assert await migrate.current(fresh_url) == HEAD
    assert await table_names(fresh_url) == MODEL_TABLES | {"alembic_version"}
    await migrate.check(fresh_url)

    await migrate.downgrade(fresh_url, "base")
    assert await migrate.current(fresh_url) is None
    assert await table_names(fresh_url) - {"alembic_version"} == set()
    with pytest.raises(migrate.SchemaDrift):
        await migrate.check(fresh_url)

    await migrate.upgrade(fresh_url)
    assert await migrate.current(fresh_url) == HEAD
    assert await table_names(fresh_url) == MODEL_TABLES | {"alembic_version"}
    await migrate.check(fresh_url)


async def test_upgrade_twice_is_a_no_op(fresh_url: str) -> None:
    await migrate.upgrade(fresh_url)
    await execute(
        fresh_url,
        "INSERT INTO workspaces (id, name, created_at) "
        "VALUES ('ws_x', 'kept', '2026-01-01 00:00:00')",
    )
    await migrate.upgrade(fresh_url)
    assert await migrate.current(fresh_url) == HEAD
    engine = create_async_engine(fresh_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT name FROM workspaces"))).scalars().all() == [
                "kept"
            ]
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("statement", "mentions"),
    [
        pytest.param("ALTER TABLE referrals DROP COLUMN note", "note", id="missing-column"),
        pytest.param(
            "ALTER TABLE programs ADD COLUMN sneaky_extra VARCHAR(10)",
            "sneaky_extra",
            id="extra-column",
        ),
        pytest.param("DROP INDEX ix_referrals_member_id", "ix_referrals_member_id", id="no-index"),
        pytest.param(
            "CREATE TABLE stray_table (id INTEGER PRIMARY KEY)", "stray_table", id="table"
        ),
    ],
)
async def test_check_catches_hand_made_changes(
    fresh_url: str, statement: str, mentions: str
) -> None:
    await migrate.upgrade(fresh_url)
    await migrate.check(fresh_url)
    await execute(fresh_url, statement)
    with pytest.raises(migrate.SchemaDrift) as drift:
        await migrate.check(fresh_url)
    assert mentions in str(drift.value)
    # Still at head: the revision alone would not have noticed.
    assert await migrate.current(fresh_url) == HEAD


def test_db_commands(fresh_url: str, tmp_path: Path) -> None:
    env = cli_env(tmp_path, database_url=fresh_url)

    before = run_cli("db", "current", env=env)
    assert before.returncode == 0, before.stderr
    assert before.stdout.splitlines() == ["current: none", f"head:    {HEAD}"]

    unmigrated = run_cli("db", "check", env=env)
    assert unmigrated.returncode == 1
    assert "Schema drift" in unmigrated.stderr
    assert "empty schema" in unmigrated.stderr

    upgraded = run_cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"Database at {HEAD}" in upgraded.stderr

    after = run_cli("db", "current", env=env)
    assert after.returncode == 0, after.stderr
    assert after.stdout.splitlines() == [f"current: {HEAD}", f"head:    {HEAD}"]

    checked = run_cli("db", "check", env=env)
    assert checked.returncode == 0, checked.stderr
    assert "matches the models" in checked.stderr


def test_db_check_exits_non_zero_on_drift(fresh_url: str, tmp_path: Path) -> None:
    asyncio.run(migrate.upgrade(fresh_url))
    asyncio.run(execute(fresh_url, "ALTER TABLE members ADD COLUMN nickname VARCHAR(50)"))
    result = run_cli("db", "check", env=cli_env(tmp_path, database_url=fresh_url))
    assert result.returncode == 1
    assert "Schema drift" in result.stderr
    assert "nickname" in result.stderr
