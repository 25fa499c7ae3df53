"""The redirect cache: what invalidates it, and how it behaves when Redis is away.

Redis carries only invalidations between processes, so Redis being unreachable (from the start,
or for a while) must never break a redirect: lookups fall back to the database, and a cache that
lost its subscription forgets what it held, keeps entries only briefly, and is told about
changes again once Redis is back. Tests that need a real Redis run when
``REFERKIT_TEST_REDIS_URL`` is set (through a proxy the test can cut and restore).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Mode
from referkit.config import Settings
from referkit.link import cache as link_cache
from referkit.link.cache import LinkCache
from referkit.link.changes import LinkChanges
from tests.conftest import TEST_BASE_URL, running
from tests.factories import Key, create_member, create_program, new_key
from tests.processes import free_port

REDIS_URL = os.environ.get("REFERKIT_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs REFERKIT_TEST_REDIS_URL")


async def _link(client: httpx.AsyncClient, key: Key, destination: str) -> dict[str, Any]:
    body = {"destination_url": destination, "code": f"C{uuid.uuid4().hex[:10]}"}
    response = await client.post("/api/v1/links", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _location(client: httpx.AsyncClient, code: str) -> str | None:
    response = await client.get(f"/r/{code}", headers={"user-agent": "Mozilla/5.0"})
    if response.status_code == 404:
        return None
    assert response.status_code == 302, response.text
    return response.headers["location"].split("?")[0]


async def _eventually(check: Callable[[], bool | Awaitable[bool]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.02)


# --- invalidation within one process (no Redis) -------------------------------------------


async def test_a_landing_url_change_reaches_cached_member_links(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, landing_url="https://example.com/before")
    member = await create_member(client, key, program["id"])
    code = member["referral_code"]
    assert await _location(client, code) == "https://example.com/before"
    moved = await client.patch(
        f"/api/v1/programs/{program['id']}",
        json={"landing_url": "https://example.com/after"},
        headers=key.headers,
    )
    assert moved.status_code == 200, moved.text
    assert await _location(client, code) == "https://example.com/after"
    deleted = await client.delete(f"/api/v1/programs/{program['id']}", headers=key.headers)
    assert deleted.status_code == 204, deleted.text
    assert await _location(client, code) is None  # its links went with it


async def test_a_test_data_wipe_reaches_cached_test_links(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    test_key = await new_key(app, mode=Mode.test)
    async with httpx.AsyncClient(transport=transport, base_url=TEST_BASE_URL) as client:
        link = await _link(client, test_key, "https://example.com/test")
        assert await _location(client, link["code"]) == "https://example.com/test"
        wiped = await client.delete("/api/v1/test-data", headers=test_key.headers)
        assert wiped.status_code == 200, wiped.text
        assert await _location(client, link["code"]) is None


# --- Redis unreachable ---------------------------------------------------------------------


async def test_redirects_work_when_redis_is_unreachable(
    settings: Settings, client: httpx.AsyncClient, key: Key
) -> None:
    link = await _link(client, key, "https://example.com/offline")
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # a port nothing listens on
    async with running(settings, redis_url=nobody, link_cache_ttl_seconds=300) as (app, other):
        cache: LinkCache = app.state.link_cache
        assert cache.bus is not None
        assert not cache.bus.connected
        for _ in range(3):  # a miss (database), then hits (memory); never a 5xx
            assert await _location(other, link["code"]) == "https://example.com/offline"
        # Unsubscribed, the cache keeps entries briefly: other processes' edits cannot reach it.
        expires_at, _ = cache._entries[link["code"].lower()]
        assert expires_at - time.monotonic() <= 2.0


async def test_a_closed_cache_is_told_nothing_more(
    settings: Settings, client: httpx.AsyncClient, key: Key
) -> None:
    """The leak behind the first attempt: a cache whose app had shut down still heard every
    commit of the process and published it on its closed client, which opened a new
    connection nobody closed. Once closed, a cache hears nothing and publishes nothing."""
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    async with running(settings, redis_url=nobody) as (app, _):
        closed: LinkCache = app.state.link_cache
    assert closed not in link_cache._caches
    link = await _link(client, key, "https://example.com/before")
    edited = await client.patch(
        f"/api/v1/links/{link['id']}",
        json={"destination_url": "https://example.com/after"},
        headers=key.headers,
    )
    assert edited.status_code == 200, edited.text
    assert closed.bus is not None
    closed.invalidate(LinkChanges(codes={link["code"].lower()}))
    assert not closed.bus._pending


# --- Redis going away and coming back ------------------------------------------------------


class Proxy:
    """A TCP proxy in front of the test Redis that a test can cut (closing every connection,
    as a Redis restart or a network failure does) and restore."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.port = free_port()
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        self.url = parts._replace(netloc=netloc).geturl()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        except asyncio.CancelledError:
            pass  # cut by down(); asyncio's server would log a cancelled handler as an error
        finally:
            for stream in (writer, upstream_writer):
                if stream is not None:
                    stream.close()
                    with contextlib.suppress(Exception):
                        await asyncio.shield(stream.wait_closed())
            self._handlers.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()


@needs_redis
async def test_redis_going_away_and_coming_back(
    settings: Settings, client: httpx.AsyncClient, key: Key
) -> None:
    assert REDIS_URL is not None
    link = await _link(client, key, "https://example.com/one")
    code = link["code"].lower()
    proxy = Proxy(REDIS_URL)
    await proxy.up()
    prefix = f"t-{uuid.uuid4().hex}"
    shared = {"redis_url": proxy.url, "redis_prefix": prefix}
    try:
        async with running(settings, link_cache_ttl_seconds=300, **shared) as (app, other):
            cache: LinkCache = app.state.link_cache
            assert cache.bus is not None
            assert cache.bus.connected
            here = cache.bus
            # Another process's cache: its changes reach ``cache`` through Redis only.
            elsewhere = LinkCache(cache.engine, 300, redis_url=proxy.url, prefix=prefix)
            await elsewhere.start()
            assert elsewhere.bus is not None
            assert elsewhere.bus.connected
            there = elsewhere.bus
            try:
                assert await _location(other, code) == "https://example.com/one"
                elsewhere.invalidate(LinkChanges(codes={code}))
                await _eventually(lambda: cache.peek(code) is None, 2)
                assert await _location(other, code) == "https://example.com/one"
                assert cache.peek(code) is not None

                await proxy.down()  # Redis goes away
                await _eventually(lambda: not here.connected, 5)
                assert cache.peek(code) is None  # it may miss changes now: it forgot them all
                for _ in range(3):  # a miss (database), then hits (memory); never a 5xx
                    assert await _location(other, code) == "https://example.com/one"
                expires_at, _ = cache._entries[code]
                assert expires_at - time.monotonic() <= 2.0  # kept briefly while deaf
                elsewhere.invalidate(LinkChanges(codes={code}))  # publishing fails quietly

                await proxy.up()  # Redis is back: both subscribe again by themselves
                await _eventually(lambda: here.connected and there.connected, 15)
                assert await _location(other, code) == "https://example.com/one"
                assert cache.peek(code) is not None
                elsewhere.invalidate(LinkChanges(codes={code}))
                await _eventually(lambda: cache.peek(code) is None, 2)
            finally:
                await elsewhere.close()
    finally:
        await proxy.down()
