"""The route table (``referkit.routing``) takes the decisions FastAPI's own dispatch takes.

Every route's handler is replaced by a recorder, and the same request goes once through
``RouteTable`` and once through FastAPI's nested dispatch (``APIRouter.app``): the route that
handles it, and every scope key handed to it (path parameters, endpoint, FastAPI's effective
route and included router, root path), must be the same. The requests: every route of the real
app with every method, paths no route answers, trailing slashes and newlines, a root path; and
a small app with what the real one lacks (nested prefixes, Starlette routes, a mount and a
websocket route inside routers, a route class with its own matching, form limits).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, WebSocket
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match, Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from referkit.app import create_app
from referkit.config import Settings
from referkit.routing import RouteTable, install_route_table

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class Handled(Exception):
    """Raised by the recorders: what handled the request, and the scope it was given."""

    def __init__(self, handler: Any, scope: Scope) -> None:
        super().__init__()
        self.handler = handler
        self.scope = _snapshot(scope)


def _snapshot(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _snapshot(item) for key, item in value.items()}
    if isinstance(value, str | bytes | int | float | bool | tuple | list) or value is None:
        return value
    return ("object", id(value))


@pytest.fixture
def recorders(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every route class hands over to a recorder instead of its endpoint."""

    def recorder(cls: type) -> Any:
        async def handle(self: Any, scope: Scope, receive: Receive, send: Send) -> None:
            raise Handled(self, scope)

        return handle

    for cls in (APIRoute, Route, Mount, WebSocketRoute):
        monkeypatch.setattr(cls, "handle", recorder(cls))


def _scope(app: FastAPI, method: str, path: str, *, root_path: str = "") -> Scope:
    return {
        "app": app,  # as under the app: the router's 404 is an HTTPException
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }


async def _outcome(dispatch: Any, scope: Scope) -> tuple[Any, Any]:
    async def receive() -> dict[str, Any]:
        raise AssertionError("no handler reads the body here")

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("no handler answers here")

    try:
        await dispatch(scope, receive, send)
    except Handled as handled:
        return handled.handler, handled.scope
    except Exception as exc:  # FastAPI's 404: HTTPException from the router's default
        return (type(exc).__name__, getattr(exc, "status_code", None)), _snapshot(scope)
    raise AssertionError("the request was neither handled nor refused")


async def assert_same_dispatch(app: FastAPI, requests: list[tuple[str, str, str]]) -> int:
    table = app.router.middleware_stack
    assert isinstance(table, RouteTable)
    handled = 0
    for method, path, root_path in requests:
        expected = await _outcome(
            table.fastapi_dispatch, _scope(app, method, path, root_path=root_path)
        )
        got = await _outcome(table, _scope(app, method, path, root_path=root_path))
        assert got[0] is expected[0] or got[0] == expected[0], (method, path, got, expected)
        assert got[1] == expected[1], (method, path)
        handled += not isinstance(expected[0], tuple)
    return handled


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}:]+(:[a-z]+)?\}", "x1", path)


def _paths(app: FastAPI) -> Iterator[str]:
    for context in iter_route_contexts(app.routes):
        path = context.path
        if path:
            yield _concrete(path)
            yield _concrete(path) + "/"
            yield _concrete(path) + "/x1"


@pytest.fixture
def real_app(tmp_path: Any) -> FastAPI:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        data_dir=tmp_path,
        secret_key="test-secret-key-" + "x" * 32,
    )
    return create_app(settings)


async def test_every_route_of_the_app_is_dispatched_as_fastapi_would(
    real_app: FastAPI, recorders: None
) -> None:
    paths = sorted(set(_paths(real_app)))
    extra = [
        "/",
        "",
        "/nothing",
        "/api",
        "/api/v1",
        "/api/v1/",
        "/api/v1/nothing/here",
        "/api/v1/programs\n",
        "/api/v1/programs/x1\n",
        "/healthz\n",
        "/api/v1/docs/assets/swagger-ui.css",
        "/dashboard/static/app.css",
        "/api/v1/programs//members",
        "/API/V1/PROGRAMS",
    ]
    requests = [(method, path, "") for path in paths + extra for method in METHODS]
    requests += [
        (method, "/base" + path, "/base")
        for path in ("/api/v1/programs/x1", "/healthz", "/api/v1/nothing", "/base")
        for method in ("GET", "DELETE")
    ]
    handled = await assert_same_dispatch(real_app, requests)
    assert handled > len(paths)  # most requests reached a route, some only the 404


async def test_a_404_is_fastapis_own_default(real_app: FastAPI, recorders: None) -> None:
    table = real_app.router.middleware_stack
    assert isinstance(table, RouteTable)
    outcome = await _outcome(table, _scope(real_app, "GET", "/api/v1/nothing"))
    assert outcome[0] == ("HTTPException", 404)


def _synthetic_app() -> FastAPI:
    class Exact(APIRoute):
        """Matches only when a header says so: the table must ask it as FastAPI does."""

        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            match, child = super().matches(scope)
            if match is not Match.NONE and (b"x-exact", b"1") not in scope["headers"]:
                return Match.NONE, {}
            return match, child

    async def endpoint() -> dict[str, str]:
        return {}

    async def plain(request: Request) -> Response:
        return PlainTextResponse("")

    async def socket(websocket: WebSocket) -> None:
        await websocket.close()

    inner = APIRouter(prefix="/inner")
    inner.add_api_route("/items/{item_id}", endpoint, methods=["GET"])
    inner.add_api_route("/items/{item_id}", endpoint, methods=["DELETE"])
    inner.add_route("/plain/{name}", plain, methods=["GET"])
    inner.add_websocket_route("/socket", socket)
    inner.mount("/files", app=PlainTextResponse("files"))
    inner.routes.append(Exact("/exact/{n}", endpoint, methods=["GET"]))
    middle = APIRouter(prefix="/middle")
    middle.include_router(inner, form_limits={"max_files": 3})
    middle.add_api_route("/{anything}/items/{item_id}", endpoint, methods=["POST"])
    outer = APIRouter(prefix="/v1")
    outer.include_router(middle)
    outer.add_api_route("/x{suffix}", endpoint, methods=["GET"])
    app = FastAPI(redirect_slashes=False)
    app.add_api_route("/first/{a}", endpoint, methods=["PUT"])
    app.include_router(outer)
    app.add_route("/v1/middle/inner/items/{item_id}", plain, methods=["PATCH"])
    app.mount("/static", app=PlainTextResponse("static"))
    app.add_api_route("/{catch}/{all:path}", endpoint, methods=["OPTIONS"])
    install_route_table(app)
    return app


async def test_a_tree_of_every_route_kind_is_dispatched_as_fastapi_would(
    recorders: None,
) -> None:
    app = _synthetic_app()
    paths = [
        "/first/a",
        "/v1/middle/inner/items/7",
        "/v1/middle/inner/items/7/",
        "/v1/middle/inner/plain/n",
        "/v1/middle/inner/socket",
        "/v1/middle/inner/files/a/b",
        "/v1/middle/inner/files",
        "/v1/middle/inner/exact/1",
        "/v1/middle/other/items/7",
        "/v1/middle/inner/items",
        "/v1/xyz",
        "/v1/x",
        "/static/a.css",
        "/a/b/c/d",
        "/nothing",
        "/v1/middle/inner/items/7\n",
    ]
    requests = [(method, path, "") for path in paths for method in METHODS]
    assert await assert_same_dispatch(app, requests) > len(paths)
    # A route class with its own matching: matched (and handled) as FastAPI's branch does.
    table = app.router.middleware_stack
    assert isinstance(table, RouteTable)
    for headers in ([], [(b"x-exact", b"1")]):
        expected_scope = _scope(app, "GET", "/v1/middle/inner/exact/1") | {"headers": headers}
        got_scope = _scope(app, "GET", "/v1/middle/inner/exact/1") | {"headers": headers}
        expected = await _outcome(table.fastapi_dispatch, expected_scope)
        got = await _outcome(table, got_scope)
        assert got[0] is expected[0] or got[0] == expected[0]
        assert got[1] == expected[1]


def test_the_table_keeps_fastapis_order_within_each_bucket(real_app: FastAPI) -> None:
    table = real_app.router.middleware_stack
    assert isinstance(table, RouteTable)
    built = table._build()
    order = {id(entry): n for n, entry in enumerate(built.entries)}
    for candidates in built.candidates.values():
        positions = [order[id(entry)] for entry in candidates]
        assert positions == sorted(positions)
    # Each entry is in the bucket of its own literal segments, and in no unrelated one.
    for entry, (key, candidates) in itertools.product(built.entries, built.candidates.items()):
        assert (entry in candidates) == (key[: len(entry.key)] == entry.key)
