"""The hot-path writers' own PostgreSQL connections are handed back or closed on every error."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from referkit.db.pg_direct import DirectConnections

PG_URL = os.environ.get("REFERKIT_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="needs REFERKIT_TEST_DATABASE_URL")


class Refused(Exception):
    """Stands for anything a writer raises inside the block (an encoder's refusal, a bug)."""


async def _backends(connections: DirectConnections) -> int:
    async with connections.connection() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    return count


async def test_every_exception_releases_the_connection() -> None:
    assert PG_URL is not None
    engine = create_async_engine(PG_URL)
    connections = DirectConnections(engine)
    try:
        before = await _backends(connections)
        for _ in range(50):
            with pytest.raises(Refused):
                async with connections.connection():
                    raise Refused
        # A failed statement leaves its connection usable: it goes back to the idle list.
        with pytest.raises(Exception, match="division by zero"):
            async with connections.connection() as conn:
                await conn.fetchval("SELECT 1/0")
        assert len(connections._idle) == 1
        assert len(connections._open) == 1

        # A cancelled statement may leave the protocol mid-way: that connection is closed.
        async def slow() -> None:
            async with connections.connection() as conn:
                await conn.execute("SELECT pg_sleep(5)")

        task = asyncio.create_task(slow())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(connections._open) == 0
        # Give the server a moment to notice the terminated connection.
        for _ in range(50):
            if await _backends(connections) == before:
                break
            await asyncio.sleep(0.1)
        assert await _backends(connections) == before
    finally:
        await connections.close()
        await engine.dispose()
