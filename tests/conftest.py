"""Shared fixtures: every test that uses ``app`` or ``client`` runs on SQLite and, when
``REFERKIT_TEST_DATABASE_URL`` is set, again on PostgreSQL (CI always sets it).

The PostgreSQL pass goes through a PgBouncer of the suite's own in transaction pooling mode
(``tests/pgbouncer.py``) whenever Debian's ``pgbouncer`` is installed, and always in CI; the
settings then say so (``database_pgbouncer``). Only the schema reset goes straight to PostgreSQL.

The database is migrated once per session. Tests do not share state because each one works in
its own freshly created workspace, and every query is scoped to a workspace — the same
isolation production relies on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from referkit.app import create_app
from referkit.config import Settings
from referkit.db import migrate
from tests import pgbouncer
from tests.factories import Key, new_key

PG_URL = os.environ.get("REFERKIT_TEST_DATABASE_URL")
TEST_BASE_URL = "http://testserver"


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI") and not PG_URL:
        raise pytest.UsageError("CI must set REFERKIT_TEST_DATABASE_URL (PostgreSQL).")
    if PG_URL and os.environ.get("REFERKIT_TEST_DATABASE_SHARED_URL"):
        asyncio.run(_create_worker_database(PG_URL))


async def _create_worker_database(url: str) -> None:
    """A pytest-xdist worker's own database (see tests/__init__.py), made once, kept after."""
    name = make_url(url).database
    admin = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as conn:
            found = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not found:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


# The URLs that reach PostgreSQL through the suite's PgBouncer (see ``behind_pgbouncer``).
_BOUNCED: set[str] = set()


def behind_pgbouncer(url: str) -> bool:
    """Whether ``url`` goes through the suite's PgBouncer: settings built on it must then say
    ``database_pgbouncer=True``, and engines built on it need ``pgbouncer=True``."""
    return url in _BOUNCED


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The PostgreSQL database of the session: through PgBouncer when it is installed (and
    always in CI), straight to ``REFERKIT_TEST_DATABASE_URL`` otherwise."""
    assert PG_URL is not None
    if pgbouncer.executable() is None:
        if pgbouncer.required():
            raise pytest.UsageError("CI runs the PostgreSQL pass through pgbouncer: install it.")
        yield PG_URL
        return
    with pgbouncer.pgbouncer(PG_URL) as url:
        _BOUNCED.add(url)
        try:
            yield url
        finally:
            _BOUNCED.discard(url)


@pytest.fixture(scope="session", params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database for the whole session (one per backend)."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        asyncio.run(reset_postgres(PG_URL or url))  # DROP SCHEMA goes straight to the server
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'referkit.db'}"
    asyncio.run(migrate.upgrade(url, pgbouncer=behind_pgbouncer(url)))
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        database_pgbouncer=behind_pgbouncer(database_url),
        data_dir=tmp_path,
        base_url=TEST_BASE_URL,
        secret_key="test-secret-key-" + "x" * 32,
        # Tests drive the worker themselves (tests/webhook) and deliver to loopback receivers.
        worker_in_process=False,
        webhook_allow_private_targets=True,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@asynccontextmanager
async def running(
    settings: Settings, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own (``settings`` with ``overrides``), started, with a client."""
    application = create_app(settings.model_copy(update=overrides))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=TEST_BASE_URL) as http:
            yield application, http


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=TEST_BASE_URL) as http:
        yield http


@pytest.fixture
async def key(app: FastAPI) -> Key:
    """A full-scope live key in a fresh workspace."""
    return await new_key(app)
