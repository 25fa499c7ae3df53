"""Sessions and the request transaction boundary.

Only the boundary commits: the request dependency below, the worker's job runner and the CLI.
Services and repositories call ``flush()``. The dependency runs its cleanup as soon as the path
operation returns (FastAPI ``scope="function"``), before the response is sent, so a 2xx means
the change is committed; an exception rolls everything back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from referkit.db.engine import write_engine

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SessionFactory:
    """Builds read and write sessions over one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._read = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._write = async_sessionmaker(
            write_engine(engine), expire_on_commit=False, autoflush=False
        )

    def __call__(self, *, write: bool = True) -> AsyncSession:
        return (self._write if write else self._read)()

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """A unit of work for CLI and worker code: commit on success, roll back on error."""
        async with self(write=write) as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    factory: SessionFactory = request.app.state.sessions
    write = request.method not in SAFE_METHODS
    async with factory(write=write) as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
