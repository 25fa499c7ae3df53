"""A request's transaction (``referkit.db.session.TransactionRoute``): every route that takes
the request's session opens it itself, commits it before the response goes out and rolls it
back when the path operation fails; a read request gets a read session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from referkit.app import create_app
from referkit.compat.routing import shaped_route
from referkit.config import Settings
from referkit.db.engine import create_engine
from referkit.db.plain_reads import PlainRead
from referkit.db.session import (
    APIRouter,
    SessionFactory,
    TransactionRoute,
    get_session,
    reads_only,
)
from referkit.errors import NotFound
from referkit.routing import _entries

Session = Annotated[AsyncSession, Depends(get_session)]


class _Base(DeclarativeBase):
    pass


class Thing(_Base):
    __tablename__ = "things"
    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int]


_COUNT = PlainRead(select(func.count()).select_from(text("t")))


def test_every_route_that_takes_the_session_opens_it(settings: Settings) -> None:
    app = create_app(settings)
    checked = 0
    for entry in _entries(app.router):
        route = entry.route
        if not isinstance(route, APIRoute):
            continue
        dependant = entry.context.dependant if entry.context is not None else route.dependant
        stack = [dependant]
        takes = False
        while stack:
            item = stack.pop()
            takes = takes or item.call is get_session
            stack.extend(item.dependencies)
        if takes:
            checked += 1
            assert isinstance(route, TransactionRoute), route.path
    assert checked > 100


class Boom(Exception):
    pass


@pytest.fixture
async def tiny(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, SessionFactory]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tx.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        await conn.run_sync(_Base.metadata.create_all)
    sessions = SessionFactory(engine)
    router = APIRouter()
    plain = FastAPI().router  # a route of FastAPI's own class

    @router.post("/rows/{n}")
    async def add(n: int, session: Session) -> dict[str, int]:
        await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        if n < 0:
            raise Boom
        return {"n": n}

    @router.get("/rows")
    async def count(request: Request, session: Session) -> dict[str, object]:
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        rows = await session.scalar(text("SELECT count(*) FROM t"))
        return {
            "rows": rows,
            "write": session.bind is not engine,
            "in_transaction": bool(raw.driver_connection._conn.in_transaction),
        }

    @router.post("/objects/{n}")
    async def add_object(n: int, session: Session) -> dict[str, int]:
        session.add(Thing(n=n))  # not flushed: the route's commit does it
        return {"n": n}

    @router.get("/plain")
    async def plain_count(session: Session) -> dict[str, object]:
        row = await _COUNT.first(session, {})
        return {
            "rows": row[0] if row else None,
            "began": session.in_transaction(),
            "checked_out": engine.pool.checkedout(),  # type: ignore[attr-defined]
        }

    @router.post("/peek")
    @reads_only
    async def peek(session: Session) -> dict[str, bool]:
        return {"write": session.bind is not engine}

    shaped = APIRouter(
        route_class=shaped_route(lambda status, code, detail, errors: {"error": code})
    )

    @shaped.post("/shaped/{n}")
    async def add_then_refuse(n: int, session: Session) -> None:
        await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        raise NotFound("no such thing")

    @plain.get("/unopened")
    async def not_opened(session: Session) -> None:
        return None

    app = FastAPI()
    app.include_router(router)
    app.include_router(plain)
    app.include_router(shaped)
    app.state.sessions = sessions

    @app.exception_handler(Boom)
    async def boom(request: Request, exc: Boom) -> httpx.Response:
        from fastapi.responses import JSONResponse

        return JSONResponse({"boom": True}, status_code=500)  # type: ignore[return-value]

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http, sessions
    await engine.dispose()


async def test_a_write_is_committed_before_the_answer(
    tiny: tuple[httpx.AsyncClient, SessionFactory],
) -> None:
    http, _ = tiny
    assert (await http.post("/rows/1")).json() == {"n": 1}
    assert (await http.get("/rows")).json() == {"rows": 1, "write": False, "in_transaction": False}


async def test_a_failed_path_operation_stores_nothing(
    tiny: tuple[httpx.AsyncClient, SessionFactory],
) -> None:
    http, _ = tiny
    assert (await http.post("/rows/-1")).status_code == 500
    assert (await http.get("/rows")).json()["rows"] == 0
    # The connection went back to the pool clean: the next write commits as usual.
    assert (await http.post("/rows/2")).status_code == 200
    assert (await http.get("/rows")).json()["rows"] == 1


async def test_a_reads_only_endpoint_gets_a_read_session(
    tiny: tuple[httpx.AsyncClient, SessionFactory],
) -> None:
    http, _ = tiny
    assert (await http.post("/peek")).json() == {"write": False}


async def test_a_route_that_does_not_open_the_session_says_so(
    tiny: tuple[httpx.AsyncClient, SessionFactory],
) -> None:
    http, _ = tiny
    assert (await http.get("/unopened")).status_code == 500
    with pytest.raises(RuntimeError, match="does not open one"):
        await get_session(Request({"type": "http", "route": None}))


async def test_an_error_answered_by_the_route_itself_stores_nothing(
    tiny: tuple[httpx.AsyncClient, SessionFactory],
) -> None:
    """A route class that answers errors in its own shape (the compatibility APIs, the
    dashboard's pages) still rolls back what the path operation flushed."""
    http, _ = tiny
    answer = await http.post("/shaped/7")
    assert answer.status_code == 404
    assert answer.json() == {"error": "not_found"}
    assert (await http.get("/rows")).json()["rows"] == 0


async def test_a_request_that_only_read_plainly_commits_nothing(
    tiny: tuple[httpx.AsyncClient, SessionFactory],
) -> None:
    """A read answered by plain reads (``db.plain_reads``) takes no pooled connection and
    begins nothing; what it reads is what was committed."""
    http, _ = tiny
    assert (await http.get("/plain")).json() == {"rows": 0, "began": False, "checked_out": 0}
    assert (await http.post("/rows/5")).status_code == 200
    assert (await http.get("/plain")).json() == {"rows": 1, "began": False, "checked_out": 0}


async def test_an_object_added_without_a_flush_is_committed(
    tiny: tuple[httpx.AsyncClient, SessionFactory],
) -> None:
    http, sessions = tiny
    assert (await http.post("/objects/3")).json() == {"n": 3}
    async with sessions(write=False) as session:
        assert await session.scalar(select(Thing.n)) == 3
