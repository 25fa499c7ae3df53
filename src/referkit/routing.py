"""The application's route table: FastAPI's routes, matched flat and by path prefix.

FastAPI keeps an included router as an ``_IncludedRouter`` branch: a request is matched by
asking each branch in turn, each branch recomputes its routers' version (a walk of its whole
subtree) before it looks at its routes, and once a branch has matched, handling it matches the
branch again, level by level. Every API path is three levels down (app → ``/api/v1`` → the
domain router), behind the health, embed and compat routers, so a request paid for dozens of
branch walks and regular expressions before its endpoint ran.

``RouteTable`` replaces the app router's dispatch (``router.middleware_stack``, which Starlette
calls for every request) with the same decision taken once: on the first request it lays out
every route of the tree in FastAPI's matching order (each with the chain of branches above it)
and indexes them by their leading literal path segments. A request is matched against the
routes its path could match, in that order, with FastAPI's own rules — the first full match
wins, else the first partial one (a 405) — and handed to the route as FastAPI's branches would
hand it (the same scope keys, form limits and route telemetry). Nothing else changes: the
routes, their handlers and the OpenAPI document are FastAPI's own objects. What FastAPI would
answer without a match (404, and a trailing-slash redirect or low-priority route were there
any), non-HTTP scopes, and routes this table does not model are handed to FastAPI's dispatch.

The table is taken on the first request, like Starlette's middleware stack: every route is in
place by then (``create_app`` and the lifespan add them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import (
    _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
    _FASTAPI_INCLUDED_ROUTER_KEY,
    _SCOPE_MISSING,
    APIRoute,
    APIRouter,
    _apply_router_form_limits,
    _EffectiveRouteContext,
    _get_fastapi_scope,
    _IncludedRouter,
    _restore_fastapi_scope_key,
    _update_scope,
)
from fastapi.telemetry._api import _route_selected
from starlette._utils import get_route_path
from starlette.routing import PARAM_REGEX, BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

INDEX_DEPTH = 3
"""Routes are indexed by up to this many leading literal path segments (``api/v1/programs``)."""


class _Entry:
    """One route of the tree, where FastAPI's matching would reach it.

    ``chain`` lists the included-router branches above it, outermost first (empty for a route
    of the app router itself); ``context`` is FastAPI's effective route (prefixes, dependencies
    and handler of that inclusion) for a route inside a branch.
    """

    __slots__ = (
        "after_branch",
        "chain",
        "context",
        "key",
        "opaque",
        "regex",
        "route",
        "select",
    )

    def __init__(
        self,
        route: BaseRoute,
        chain: tuple[_IncludedRouter, ...],
        context: _EffectiveRouteContext | None,
        *,
        after_branch: bool,
    ) -> None:
        self.route = route
        self.chain = chain
        self.context = context
        # FastAPI's branches leave ``scope["fastapi"]`` behind once asked, matched or not.
        self.after_branch = after_branch or bool(chain)
        self.opaque = False
        pattern: str | None = None
        if context is None:
            if type(route).matches in (Route.matches, APIRoute.matches):
                pattern = route.path  # type: ignore[attr-defined]
            elif type(route).matches is Mount.matches:
                pattern = route.path + "/{path:path}"  # type: ignore[attr-defined]
            self.select: Callable[[Scope], tuple[Match, Scope]] = route.matches
        elif isinstance(route, APIRoute) and type(route).matches is APIRoute.matches:
            pattern = context.path
            self.select = self._select_api_route
        else:
            # A mount, websocket or Starlette route inside a branch, or a route class with its
            # own matching: matched as FastAPI's branch does, handled by FastAPI's dispatch.
            self.opaque = True
            self.select = self._select_as_branch
        # The pattern ``select`` tries first: without a match of it, the answer is NONE.
        self.regex: re.Pattern[str] | None = None
        if pattern is not None:
            compiled: Any = route if context is None else context
            self.regex = compiled.path_regex
        self.key = _literal_segments(pattern) if pattern is not None else ()

    def _select_api_route(self, scope: Scope) -> tuple[Match, Scope]:
        # What ``APIRoute.matches`` does with its effective route context in the scope.
        assert self.context is not None
        match, child_scope = self.context.matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self.route
        return match, child_scope

    def _select_as_branch(self, scope: Scope) -> tuple[Match, Scope]:
        # ``_IncludedRouter._match`` for one candidate.
        context = self.context
        assert context is not None
        if not isinstance(context.original_route, APIRoute):
            return context.matches(scope)
        fastapi_scope = _get_fastapi_scope(scope)
        previous = fastapi_scope.get(_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY, _SCOPE_MISSING)
        fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = context
        try:
            return context.original_route.matches(scope)
        finally:
            _restore_fastapi_scope_key(scope, _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY, previous)


def _literal_segments(pattern: str) -> tuple[str, ...]:
    """The whole path segments every path matching ``pattern`` starts with (at most
    ``INDEX_DEPTH``): ``/api/v1/programs/{id}`` → ``("api", "v1", "programs")``."""
    parameter = PARAM_REGEX.search(pattern)
    if parameter is None:
        # A literal path matches itself only (a path ending in a newline is looked up in the
        # whole table: ``$`` also matches before one).
        segments = pattern.split("/")[1:]
    else:
        # The segment the first parameter is in is not a literal one.
        segments = pattern[: parameter.start()].split("/")[1:-1]
    return tuple(segments[:INDEX_DEPTH])


def _request_segments(path: str) -> tuple[str, ...]:
    return tuple(path.split("/", INDEX_DEPTH + 1)[1 : INDEX_DEPTH + 1])


class _Table:
    def __init__(self, entries: list[_Entry], *, default_ok: bool) -> None:
        self.entries = entries
        # For every key (and each of its prefixes), the entries a path with those leading
        # segments could match, in order: those whose literal segments are a prefix of it.
        prefixes = {entry.key[:depth] for entry in entries for depth in range(len(entry.key) + 1)}
        self.candidates = {
            prefix: [entry for entry in entries if prefix[: len(entry.key)] == entry.key]
            for prefix in prefixes
        }
        self.default_ok = default_ok
        self.has_branch = any(entry.chain for entry in entries)

    def lookup(self, path: str) -> list[_Entry]:
        if path.endswith("\n"):
            return self.entries
        segments = _request_segments(path)
        candidates = self.candidates
        for depth in range(len(segments), -1, -1):
            found = candidates.get(segments[:depth])
            if found is not None:
                return found
        return self.entries  # pragma: no cover  (the empty prefix is always a key)


def _entries(router: APIRouter) -> list[_Entry]:
    entries: list[_Entry] = []
    branch_seen = False

    def walk(branch: _IncludedRouter, chain: tuple[_IncludedRouter, ...]) -> None:
        for candidate in branch.effective_candidates():
            if isinstance(candidate, _IncludedRouter):
                walk(candidate, (*chain, candidate))
            else:
                entries.append(
                    _Entry(candidate.original_route, chain, candidate, after_branch=True)
                )

    for route in router.routes:
        if isinstance(route, _IncludedRouter):
            walk(route, (route,))
            branch_seen = True
        else:
            entries.append(_Entry(route, (), None, after_branch=branch_seen))
    return entries


class RouteTable:
    """``router.middleware_stack`` of the app router: see the module's docstring."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self.fastapi_dispatch: ASGIApp = router.app
        self._table: _Table | None = None

    def _build(self) -> _Table:
        router = self.router
        # Without a trailing-slash redirect or a low-priority (frontend) route, FastAPI
        # answers an unmatched request with its default (the 404) after its walk.
        default_ok = not router.redirect_slashes and not any(
            True for _ in router._iter_low_priority_routes()
        )
        self._table = _Table(_entries(router), default_ok=default_ok)
        return self._table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fastapi_dispatch(scope, receive, send)
            return
        table = self._table or self._build()
        full: tuple[_Entry, Scope] | None = None
        partial: tuple[_Entry, Scope] | None = None
        route_path = get_route_path(scope)
        for entry in table.lookup(route_path):
            regex = entry.regex
            if regex is not None and regex.match(route_path) is None:
                continue
            match, child_scope = entry.select(scope)
            if match is Match.FULL:
                full = (entry, child_scope)
                break
            if match is Match.PARTIAL and partial is None:
                partial = (entry, child_scope)
        if full is not None:
            entry, child_scope = full
            # FastAPI stops at a full match: only the branches before it were asked.
            after_branch = entry.after_branch
        elif partial is not None:
            entry, child_scope = partial
            after_branch = table.has_branch
        else:
            if not table.default_ok:
                await self.fastapi_dispatch(scope, receive, send)
                return
            self._enter(scope, after_branch=table.has_branch)
            await self.router.default(scope, receive, send)
            return
        if entry.opaque:
            await self.fastapi_dispatch(scope, receive, send)
            return
        self._enter(scope, after_branch=after_branch)
        route = entry.route
        context = entry.context
        if context is None:  # a route of the app router itself (``APIRouter.app``)
            _update_scope(scope, child_scope)
            _route_selected(
                scope=scope,
                path=getattr(route, "path_format", None),
                mount=isinstance(route, Mount),
            )
            await route.handle(scope, receive, send)
            return
        # What each branch's ``handle`` and the innermost one's ``_handle_selected`` do.
        for branch in entry.chain:
            _apply_router_form_limits(scope, branch.include_context.form_limits)
            _get_fastapi_scope(scope)[_FASTAPI_INCLUDED_ROUTER_KEY] = branch
        _update_scope(scope, child_scope)
        _route_selected(scope=scope, path=context.path_format)
        _get_fastapi_scope(scope)[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = context
        scope["route"] = route
        await route.handle(scope, receive, send)

    def _enter(self, scope: Scope, *, after_branch: bool) -> None:
        # ``APIRouter.app`` before its walk; asking a branch leaves ``scope["fastapi"]``.
        _apply_router_form_limits(scope, self.router.form_limits)
        if "router" not in scope:
            scope["router"] = self.router
        if after_branch:
            _get_fastapi_scope(scope)


def install_route_table(app: FastAPI) -> None:
    """Dispatch the app router's requests through a ``RouteTable``."""
    router = app.router
    # The router has no middleware of its own: its stack is its dispatch.
    assert router.middleware_stack == router.app, "the app router has its own middleware"
    router.middleware_stack = RouteTable(router)
