"""PostgreSQL behind PgBouncer in transaction pooling mode.

Two server connections shared by many clients make the usual trap certain: asyncpg's named
prepared statements, kept by default, are looked for on a server connection that never saw them.
With ``pgbouncer=True`` the engine, the migrations and the hot-path writers' own connections
keep none, and work. The whole PostgreSQL pass of the suite runs through the suite's own
bouncer (``tests/conftest.py``); these tests pin the trap itself.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from referkit.db import migrate
from referkit.db.engine import create_engine
from referkit.db.pg_direct import DirectConnections
from tests import pgbouncer
from tests.conftest import behind_pgbouncer
from tests.processes import throwaway_postgres

PG_URL = os.environ.get("REFERKIT_TEST_DATABASE_URL")
pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="needs REFERKIT_TEST_DATABASE_URL"),
    pytest.mark.skipif(
        pgbouncer.executable() is None and not pgbouncer.required(),
        reason="pgbouncer is not installed",
    ),
]
CLIENTS = 12
TRANSACTIONS = 5


@pytest.fixture
def bounced() -> Iterator[str]:
    """A fresh database behind a fresh bouncer of two server connections."""
    assert PG_URL is not None
    with throwaway_postgres(PG_URL) as url, pgbouncer.pgbouncer(url, pool_size=2) as through:
        yield through


async def _busy(engine: AsyncEngine) -> None:
    """Many clients, each running several transactions of the same statements."""

    async def client() -> None:
        for _ in range(TRANSACTIONS):
            async with engine.begin() as conn:
                for n in range(4):
                    assert await conn.scalar(text(f"SELECT CAST(:x AS int) + {n}"), {"x": 1}) == (
                        1 + n
                    )

    # Every client finishes (none is left mid-statement when the engine is disposed).
    outcomes = await asyncio.gather(*(client() for _ in range(CLIENTS)), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def test_default_prepared_statements_break_behind_the_bouncer(bounced: str) -> None:
    """A client's statement is prepared on the server connection of its first transaction;
    while another client holds that server connection, the first client's next transaction
    runs on the other one, where its prepared statement does not exist."""
    engine = create_engine(bounced, pool_size=CLIENTS)
    statement = text("SELECT CAST(:x AS int) + 1")
    try:
        async with engine.connect() as client, engine.connect() as other:
            async with client.begin():
                prepared_on = await client.scalar(text("SELECT pg_backend_pid()"))
                assert await client.scalar(statement, {"x": 1}) == 2
            for _ in range(20):  # until the other client's transaction gets that server
                holding = await other.begin()
                if await other.scalar(text("SELECT pg_backend_pid()")) == prepared_on:
                    break
                await holding.commit()
            else:
                pytest.fail("the other client never got the statement's server connection")
            with pytest.raises(DBAPIError, match="prepared statement"):
                async with client.begin():
                    await client.scalar(statement, {"x": 1})
            await holding.commit()
    finally:
        await engine.dispose()


async def test_the_pgbouncer_engine_keeps_no_prepared_statement(bounced: str) -> None:
    engine = create_engine(bounced, pool_size=CLIENTS, pgbouncer=True)
    try:
        await _busy(engine)
        async with engine.connect() as conn:
            kept = await conn.scalar(text("SELECT count(*) FROM pg_prepared_statements"))
        assert kept == 0
    finally:
        await engine.dispose()


async def test_migrations_and_direct_writers_work_behind_the_bouncer(bounced: str) -> None:
    await migrate.upgrade(bounced, pgbouncer=True)
    assert await migrate.current(bounced, pgbouncer=True) == migrate.head_revision()
    engine = create_engine(bounced, pgbouncer=True)
    connections = DirectConnections(engine, pgbouncer=True)

    async def write(n: int) -> int:
        async with connections.connection() as conn:
            value: int = await conn.fetchval("SELECT $1::int * 2", n)
            return value

    try:
        for _ in range(3):
            assert await asyncio.gather(*(write(n) for n in range(CLIENTS))) == [
                n * 2 for n in range(CLIENTS)
            ]
    finally:
        await connections.close()
        await engine.dispose()


def test_the_postgresql_pass_goes_through_pgbouncer(request: pytest.FixtureRequest) -> None:
    """Where pgbouncer is installed (always in CI), the app fixtures' database is behind it."""
    url: str = request.getfixturevalue("postgres_url")
    assert behind_pgbouncer(url)
    assert url != PG_URL
