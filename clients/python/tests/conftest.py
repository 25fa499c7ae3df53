"""The SDK's tests run against the real Referkit app over HTTP: in-process through an ASGI
transport for the async client, and a real uvicorn server on 127.0.0.1 for the sync one. The
database is SQLite in a temporary directory (or ``REFERKIT_TEST_DATABASE_URL``)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from referkit_client import AsyncReferkit, Referkit

from referkit.app import create_app
from referkit.auth.principal import Mode, Scope
from referkit.auth.service import AuthService
from referkit.config import Settings
from referkit.db import migrate
from referkit.db.engine import create_engine
from referkit.db.session import SessionFactory
from referkit.workspace.service import WorkspaceService

BASE = "http://testserver"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("referkit")
    url = os.environ.get("REFERKIT_TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{data / 'sdk.db'}"
    asyncio.run(migrate.upgrade(url))
    return Settings(
        database_url=url,
        data_dir=data,
        base_url=BASE,
        secret_key="sdk-test-secret-" + "x" * 32,
        worker_in_process=False,
        webhook_allow_private_targets=True,
    )


async def issue_key(settings: Settings) -> str:
    engine = create_engine(settings.db_url)
    try:
        sessions = SessionFactory(engine)
        async with sessions.transaction() as session:
            ws, _ = await WorkspaceService(session).get_or_create(f"sdk-{uuid.uuid4().hex[:10]}")
            issued = await AuthService(session).issue_key(
                ws.id, name="sdk", scope=Scope.full, mode=Mode.live
            )
        return issued.secret
    finally:
        await engine.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def rk(app: FastAPI, settings: Settings) -> AsyncIterator[AsyncReferkit]:
    secret = await issue_key(settings)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    async with AsyncReferkit(api_key=secret, http_client=http) as client:
        yield client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def server(settings: Settings) -> Iterator[str]:
    """``referkit`` served by uvicorn on a loopback port, for the sync client."""
    port = int(os.environ.get("REFERKIT_SDK_TEST_PORT") or _free_port())
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def sync_rk(server: str, settings: Settings) -> Iterator[Referkit]:
    secret = asyncio.run(issue_key(settings))
    with Referkit(api_key=secret, base_url=server) as client:
        yield client
