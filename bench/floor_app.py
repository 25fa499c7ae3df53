"""The floor for a durable click: the bare 302 app (``bench/bare_app.py``) that also commits one
minimal row per request before answering, through the leanest group commit we can write.

No framework, no link lookup, no visitor id, no reach, no rollups: a two-column row (a text
primary key and a timestamp) per request, many requests per transaction, the 302 sent once
their transaction is committed. Whatever this costs relative to the bare app, every durable
redirect on the same machine, database and server flags costs at least as much, so
``bench/redirect.py`` prints it beside Referkit's figures.

A ``POST`` is the floor for batch ingestion (``bench/events.py``): the body's ``events`` parsed
with orjson, their ``event_id``, ``type``, ``amount`` and ``currency`` stored as rows of a table
keyed by ``event_id`` in one statement, and ``{"stored": n}`` answered. No authentication,
validation, attribution, per-event answer or other columns.

The database comes from ``BENCH_FLOOR_URL``: ``sqlite:///path`` (WAL, ``synchronous=NORMAL``:
the settings Referkit uses) or ``postgresql://…`` (asyncpg, two batches in flight, as Referkit).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from bench.bare_app import _BODY, _START

_TABLE = "CREATE TABLE IF NOT EXISTS floor_clicks (id TEXT PRIMARY KEY, created_at {})"
_EVENTS = (
    "CREATE TABLE IF NOT EXISTS floor_events "
    "(event_id TEXT PRIMARY KEY, type TEXT, amount BIGINT, currency TEXT)"
)
Batch = list[tuple[str, datetime]]
Events = list[dict[str, Any]]
Store = Callable[[Events], Awaitable[None]]


class GroupCommit:
    """Requests queue a row and wait; a flush takes everything queued and commits it at once."""

    def __init__(self, write: Callable[[Batch], Awaitable[None]], in_flight: int) -> None:
        self.write = write
        self.pending: list[tuple[tuple[str, datetime], asyncio.Future[None]]] = []
        self.ready = asyncio.Event()
        self.slots = asyncio.Semaphore(in_flight)
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def submit(self, row: tuple[str, datetime]) -> None:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((row, future))
        self.ready.set()
        await future

    async def run(self) -> None:
        while True:
            await self.ready.wait()
            await self.slots.acquire()
            await asyncio.sleep(0)
            batch, self.pending = self.pending, []
            self.ready.clear()
            asyncio.get_running_loop().create_task(self.flush(batch))

    async def flush(self, batch: list[tuple[tuple[str, datetime], asyncio.Future[None]]]) -> None:
        try:
            await self.write([row for row, _ in batch])
        finally:
            self.slots.release()
        for _, future in batch:
            future.set_result(None)


_FIELDS = ("event_id", "type", "amount", "currency")


async def _sqlite(path: str) -> tuple[Callable[[Batch], Awaitable[None]], Store]:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(_TABLE.format("TEXT"))
    conn.execute(_EVENTS)

    async def store(events: Events) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO floor_events VALUES (?, ?, ?, ?)",
            [tuple(event.get(name) for name in _FIELDS) for event in events],
        )
        conn.execute("COMMIT")

    async def write(rows: Batch) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO floor_clicks VALUES (?, ?)",
            [(key, at.isoformat(" ")) for key, at in rows],
        )
        conn.execute("COMMIT")

    return write, store


async def _postgres(url: str) -> tuple[Callable[[Batch], Awaitable[None]], Store]:
    import asyncpg  # type: ignore[import-untyped]

    pool = await asyncpg.create_pool(url, min_size=2, max_size=2)
    await pool.execute(_TABLE.format("timestamptz"))
    await pool.execute(_EVENTS)

    async def store(events: Events) -> None:
        await pool.execute(
            "INSERT INTO floor_events SELECT * FROM unnest($1::text[], $2::text[], "
            "$3::bigint[], $4::text[])",
            *([event.get(name) for event in events] for name in _FIELDS),
        )

    async def write(rows: Batch) -> None:
        await pool.execute(
            "INSERT INTO floor_clicks SELECT * FROM unnest($1::text[], $2::timestamptz[])",
            [key for key, _ in rows],
            [at for _, at in rows],
        )

    return write, store


_commit: GroupCommit | None = None
_store: Store | None = None
_ids = itertools.count()
_prefix = os.urandom(6).hex()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _commit, _store
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                url = os.environ["BENCH_FLOOR_URL"]
                if url.startswith("sqlite:///"):
                    write, _store = await _sqlite(url.removeprefix("sqlite:///"))
                    _commit = GroupCommit(write, 1)
                else:
                    write, _store = await _postgres(url)
                    _commit = GroupCommit(write, 2)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http" and scope["method"] == "POST":
        assert _store is not None
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        events = orjson.loads(b"".join(chunks))["events"]
        await _store(events)
        body = orjson.dumps({"stored": len(events)})
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "http":
        assert _commit is not None
        await _commit.submit((f"{_prefix}{next(_ids)}", datetime.now(UTC)))
        await send(_START)
        await send(_BODY)
