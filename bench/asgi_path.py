"""The everyday API path in process: µs per request through the ASGI app, no server, no socket.

    .venv/bin/python -m bench.asgi_path            # SQLite in a temporary directory
    BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.asgi_path        # a throwaway PostgreSQL database
    BENCH_ASGI_PROFILE=program .venv/bin/python -m bench.asgi_path   # cProfile one kind
    BENCH_ASGI_CONCURRENCY=16 taskset -c 0 .venv/bin/python -m bench.asgi_path

The app is built by ``create_app`` with the settings the tests use (rate limits off, as in
``bench/api.py``), a full key is issued directly, and a program, a member and five referrals
are made through the API. Each request kind then runs ``BENCH_ASGI_REQUESTS`` times, one after
another, straight through ``app(scope, receive, send)``, in ``BENCH_ASGI_ROUNDS`` rounds that
take the kinds in turn. Each figure is the median (and the least) of the rounds, as wall time
and as the event loop thread's CPU time per request: the request path's Python work
(middleware, routing, dependencies, the ORM, serialisation) without uvicorn's HTTP parsing, and
without the database's own work on aiosqlite's thread or the PostgreSQL server.

The floor app of ``bench/api.py`` (``bench/embed_floor_app.py``: FastAPI, the key's hash looked
up by index, one program read, ``engine.connect()`` per request) runs in the same process on
the same database as the kind ``floor``, and each kind's ratio to it is printed (the floor's
wall time over the kind's). With ``BENCH_ASGI_CONCURRENCY=N`` each round runs N callers at
once, as wrk's connections do; pinned to one core (``taskset -c 0``) the ratios are then close
to ``bench/api.py``'s, in a minute and without a server.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.common import postgres
from referkit.app import create_app
from referkit.auth.principal import Mode, Scope
from referkit.auth.service import AuthService
from referkit.config import Settings
from referkit.db import migrate
from referkit.db.session import SessionFactory
from referkit.workspace.service import WorkspaceService

REQUESTS = int(os.environ.get("BENCH_ASGI_REQUESTS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ASGI_ROUNDS", "5"))
CONCURRENCY = int(os.environ.get("BENCH_ASGI_CONCURRENCY", "1"))

Message = dict[str, Any]
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def call(
    app: App,
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, bytes]:
    """One request through the ASGI app as uvicorn would hand it over; (status, body)."""
    raw_headers = [(b"host", b"testserver"), *(headers or [])]
    if body:
        raw_headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "root_path": "",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": raw_headers,
        "state": {},
    }
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # a disconnect never comes
        raise AssertionError

    status = 0
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def seed(app: Any) -> tuple[list[tuple[bytes, bytes]], dict[str, str]]:
    sessions: SessionFactory = app.state.sessions
    async with sessions.transaction() as session:
        workspace, _ = await WorkspaceService(session).get_or_create("bench")
        issued = await AuthService(session).issue_key(
            workspace.id, name="bench", scope=Scope.full, mode=Mode.live
        )
    auth = [(b"authorization", f"Bearer {issued.secret}".encode())]
    body = json.dumps({"name": "Bench", "landing_url": "https://example.com/"}).encode()
    status, raw = await call(app, "POST", "/api/v1/programs", body=body, headers=auth)
    assert status == 201, raw
    program = json.loads(raw)["id"]
    status, raw = await call(
        app,
        "POST",
        f"/api/v1/programs/{program}/members",
        body=b'{"email": "bench@example.com"}',
        headers=auth,
    )
    assert status == 201, raw
    member = json.loads(raw)
    for n in range(5):
        body = json.dumps(
            {"referral_code": member["referral_code"], "referee": {"email": f"f{n}@example.com"}}
        ).encode()
        status, raw = await call(app, "POST", "/api/v1/referrals", body=body, headers=auth)
        assert status == 201, raw
    return auth, {"program": program, "member": member["id"]}


def kinds(
    auth: list[tuple[bytes, bytes]], ids: dict[str, str]
) -> dict[str, tuple[int, dict[str, Any]]]:
    """name: (expected status, ``call`` arguments)."""
    program, member = ids["program"], ids["member"]
    return {
        "floor": (200, {"method": "GET", "path": f"/floor/programs/{program}", "floor": True}),
        "program": (200, {"method": "GET", "path": f"/api/v1/programs/{program}"}),
        "member stats": (200, {"method": "GET", "path": f"/api/v1/members/{member}/stats"}),
        "referrals": (
            200,
            {"method": "GET", "path": "/api/v1/referrals", "query": f"member_id={member}&limit=10"},
        ),
        "create-or-fetch": (
            200,
            {
                "method": "POST",
                "path": f"/api/v1/programs/{program}/members",
                "body": b'{"email": "bench@example.com"}',
            },
        ),
        "unknown path (404)": (404, {"method": "GET", "path": "/api/v1/nothing/here"}),
        "healthz": (200, {"method": "GET", "path": "/healthz", "authorized": False}),
    }


async def repeat(app: App, arguments: dict[str, Any], count: int) -> None:
    """``count`` requests, ``CONCURRENCY`` callers at a time."""

    async def caller(n: int) -> None:
        for _ in range(n):
            await call(app, **arguments)

    share, extra = divmod(count, CONCURRENCY)
    await asyncio.gather(*(caller(share + (i < extra)) for i in range(CONCURRENCY)))


async def measure(app: Any, floor: App) -> None:
    auth, ids = await seed(app)
    requests = kinds(auth, ids)
    profile_only = os.environ.get("BENCH_ASGI_PROFILE")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in requests}
    calls: dict[str, tuple[App, dict[str, Any]]] = {}
    for name, (expected, arguments) in requests.items():
        arguments = dict(arguments)
        target = floor if arguments.pop("floor", False) else app
        if arguments.pop("authorized", True):
            arguments["headers"] = auth
        status, raw = await call(target, **arguments)
        assert status == expected, (name, status, raw)
        await repeat(target, arguments, 100)  # warm-up: caches, pools, statement compilation
        calls[name] = (target, arguments)
    if profile_only:
        target, arguments = calls[profile_only]
        profiler = cProfile.Profile()
        profiler.enable()
        await repeat(target, arguments, REQUESTS)
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(60)
        return
    # Rounds interleave the request kinds, so a busy spell of the machine spreads over all.
    for _ in range(ROUNDS):
        for name, (target, arguments) in calls.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            await repeat(target, arguments, REQUESTS)
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            results[name].append((wall / REQUESTS * 1e6, cpu / REQUESTS * 1e6))
    print(
        f"{'request':20s} {'wall µs':>9s} {'(min)':>8s} {'CPU µs':>9s} {'(min)':>8s} "
        f"{'floor/wall':>10s}   median and least of {ROUNDS} rounds of {REQUESTS}, "
        f"{CONCURRENCY} at a time"
    )
    floor_wall = statistics.median(s[0] for s in results["floor"])
    for name, samples in results.items():
        walls = [s[0] for s in samples]
        cpus = [s[1] for s in samples]
        print(
            f"{name:20s} {statistics.median(walls):9.1f} {min(walls):8.1f} "
            f"{statistics.median(cpus):9.1f} {min(cpus):8.1f} "
            f"{floor_wall / statistics.median(walls):10.3f}"
        )


async def run(url: str, data_dir: Path) -> None:
    await migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        base_url="http://testserver",
        secret_key="bench-secret-key-" + "x" * 32,
        worker_in_process=False,
        rate_limit_enabled=False,
    )
    app = create_app(settings)
    os.environ["BENCH_FLOOR_URL"] = url
    from bench import embed_floor_app

    floor = embed_floor_app.app
    async with app.router.lifespan_context(app), floor.router.lifespan_context(floor):
        await measure(app, floor)


def main() -> None:
    pg = os.environ.get("BENCH_PG_URL")
    with tempfile.TemporaryDirectory(prefix="bench-asgi-") as tmp:
        if pg:
            with postgres(pg) as url:
                asyncio.run(run(url, Path(tmp)))
        else:
            asyncio.run(run(f"sqlite+aiosqlite:///{Path(tmp) / 'referkit.db'}", Path(tmp)))


if __name__ == "__main__":
    main()
