"""``POST /api/v1/events`` and ``/events/batch`` without the framework, when nothing is unusual.

An event costs the database a few microseconds inside a group commit; through FastAPI (seven
middleware layers, the router, dependency injection, a key lookup) it costs a few milliseconds
of Python. The app's ``__call__`` hands these two paths here first. The intake answers only the
plain success case, with what the API stack would answer:

- credentials this process authenticated in the last few seconds (``auth.cache``), whose scope
  may write and whose ``last_used_at`` needs no update;
- the key's rate limit (the same limiter, the same headers) and the blocked-IP check;
- a body within the size limit that parses and validates as ``EventCreate`` / ``EventBatch``
  (the same models, through ``model_validate`` on the parsed JSON, as FastAPI does);
- the event (or batch) written through the same group commit, answered with the same JSON.

Everything else — an unknown or stale key, an ``Idempotency-Key`` header, a query string, an
oversize or invalid body, HTTPS required but absent, a key over its limit — goes to the full
stack with the body replayed, so those errors keep one implementation. An event the service
refuses (an unknown program, a refund of no purchase) is answered with the API's own problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from referkit.auth.cache import PrincipalCache, digest
from referkit.auth.gate import COUNTED
from referkit.auth.principal import Access, Principal
from referkit.auth.service import use_is_stale
from referkit.config import Settings
from referkit.errors import ReferkitError, error_response, internal_error_response
from referkit.event.schemas import EventBatch, EventCreate
from referkit.event.views import batch_result, event_view
from referkit.ingest import Ingest
from referkit.kit.json import dumps_utc
from referkit.kit.net import client_ip, request_scheme
from referkit.kit.ratelimit import Decision, RateLimiter
from referkit.kit.schemas import TEXT_CHECKED, check_text
from referkit.middleware import RAW_SECURITY_HEADERS
from referkit.protection import (
    HSTS,
    body_deadline,
    body_timeout_response,
    replay_body,
    timeout_response,
)

PATHS = {"/api/v1/events": False, "/api/v1/events/batch": True}
"""The intake's paths, and whether each takes a batch."""

_JSON = (b"content-type", b"application/json")
_AUTHENTICATION_WAIT = 0.5  # seconds a request waits for another's authentication of its key
logger = logging.getLogger("referkit.intake")


def _json_type(content_type: bytes) -> bool:
    """A JSON media type, as FastAPI reads one (``application/json`` or ``…+json``)."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


_NUL_ESCAPE = b"\\u0000"
M = TypeVar("M", bound=BaseModel)


class Fallback(Exception):
    """Not the plain case: the full stack answers."""


def parse_body(body: bytes, model: type[M]) -> M:
    """The body as FastAPI would validate it; anything invalid is the full stack's 422."""
    try:
        data = orjson.loads(body)
        # orjson refuses lone surrogates, so the only text a database cannot store is a NUL,
        # and JSON can only carry one as the escape \u0000: without that sequence in the body
        # there is nothing to look for. Otherwise the whole body is checked once, not again
        # per nested event.
        if _NUL_ESCAPE in body:
            check_text(data)
        return model.model_validate(data, context=TEXT_CHECKED)
    except (orjson.JSONDecodeError, ValidationError, ValueError):
        raise Fallback from None


class EventIntake:
    ACCESS = Access.write
    """What the cached principal must be allowed (anything less: the full stack answers)."""

    def __init__(self, state: Any, app: ASGIApp) -> None:
        self.state = state
        self.app = app
        """The full stack, for every request the intake does not answer itself."""
        self._authenticating: dict[bytes, asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send, batch: Any) -> None:
        """``batch``: what the path says (for events, whether it takes a batch)."""
        settings: Settings = self.state.settings
        body = _Body(self._body_limit(settings, batch))
        try:
            principal = await self._principal(scope)
            if principal is None:
                await self._authenticate(scope, body.replay(receive), send)
                return
            deadline = body_deadline(scope, settings.request_body_timeout_seconds)
            try:
                async with asyncio.timeout_at(deadline):
                    await body.read(receive)
            except TimeoutError:
                late = body_timeout_response(settings.request_body_timeout_seconds)
                late.raw_headers += RAW_SECURITY_HEADERS
                await late(scope, receive, send)
                return
            parsed = self._parse(body.data(), batch)
            decision = await self._admit(scope, principal, settings)
        except Fallback:
            await self.app(scope, body.replay(receive), send)
            return
        try:
            answer = await self._answer(scope, principal, parsed, settings)
        except Fallback:
            # Refused before anything was stored: the full stack answers (and, with the
            # request already counted, does not count it again).
            state = scope.setdefault("state", {})
            state[COUNTED] = True
            if decision is not None:
                state["rate_limit"] = decision
            await self.app(scope, body.replay(receive), send)
            return
        headers = list(RAW_SECURITY_HEADERS)
        if decision is not None:
            headers += decision.headers()
        if settings.require_https:
            headers.append(HSTS)
        if isinstance(answer, Response):  # a refused event, or the request timed out
            answer.raw_headers += headers
            await answer(scope, receive, send)
            return
        status, content = answer
        headers += [_JSON, (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _principal(self, scope: Scope) -> Principal | None:
        """The cached principal of the request's credentials; None when the full stack must
        authenticate them first (unknown here, expired, or ``last_used_at`` due)."""
        if scope.get("query_string"):
            raise Fallback
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is not None:
                    raise Fallback  # two of them: the full stack reads the first
                authorization = value
            elif name == b"idempotency-key" or (name == b"content-type" and not _json_type(value)):
                raise Fallback
        if authorization is None:
            raise Fallback
        principal = self._cached(authorization)
        if principal is None:
            # Another request with these credentials is being authenticated: wait for it
            # rather than send every concurrent request through the full stack at once.
            pending = self._authenticating.get(digest(authorization))
            if pending is None:
                return None
            # Bounded: the first request may be slow to send its body (its authentication
            # comes after that); past the bound, each request authenticates on its own.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pending.wait(), _AUTHENTICATION_WAIT)
            principal = self._cached(authorization)
            if principal is None:
                raise Fallback
        if not principal.allows(self.ACCESS):
            raise Fallback
        return principal

    @staticmethod
    def _body_limit(settings: Settings, batch: Any) -> int:
        return settings.max_batch_body_bytes if batch else settings.max_body_bytes

    def _cached(self, authorization: bytes) -> Principal | None:
        cache: PrincipalCache = self.state.principal_cache
        principal = cache.get(authorization)
        if principal is None or use_is_stale(principal.last_used_at):
            return None
        return principal

    async def _authenticate(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The full stack answers, and authenticates (and caches) the credentials meanwhile."""
        authorization = next(value for name, value in scope["headers"] if name == b"authorization")
        key = digest(authorization)
        done = self._authenticating[key] = asyncio.Event()
        try:
            await self.app(scope, receive, send)
        finally:
            del self._authenticating[key]
            done.set()

    async def _admit(
        self, scope: Scope, principal: Principal, settings: Settings
    ) -> Decision | None:
        if settings.require_https and request_scheme(scope, settings.trusted_networks) != "https":
            raise Fallback
        limiter: RateLimiter = self.state.limiter
        ip = client_ip(scope, settings.trusted_networks)
        if await limiter.blocked_for(ip) is not None:
            raise Fallback
        if not settings.rate_limit_enabled:
            return None
        # As ``auth.gate.count_request``: an app's client key is limited per device (IP).
        if principal.app_id is not None:
            decision = await limiter.hit(
                f"{principal.key_id}@{ip}", settings.app_client_rate_limit_per_minute
            )
        else:
            per_minute = principal.rate_limit_per_minute or settings.rate_limit_per_minute
            decision = await limiter.hit(principal.key_id, per_minute)
        if decision is not None and not decision.allowed:
            raise Fallback
        return decision

    @staticmethod
    def _parse(body: bytes, batch: Any) -> Any:
        return parse_body(body, EventBatch if batch else EventCreate)

    async def _answer(
        self, scope: Scope, principal: Principal, parsed: Any, settings: Settings
    ) -> tuple[int, bytes] | Response:
        ingest: Ingest = self.state.ingest
        seconds = settings.request_timeout_seconds
        try:
            async with asyncio.timeout(seconds if seconds > 0 else None):
                if isinstance(parsed, EventBatch):
                    outcomes = await ingest.events_many(principal, parsed.events)
                    return 200, dumps_utc(batch_result(outcomes))
                event, created = await ingest.event(principal, parsed)
        except ReferkitError as exc:
            return error_response(exc)  # refused before anything was stored
        except TimeoutError:
            return timeout_response(seconds)
        except Exception:
            logger.exception("event intake: unhandled error")
            return internal_error_response()
        return (201 if created else 200), dumps_utc(event_view(event))


class _Body:
    """The request body, read up to ``limit`` bytes; replayable to the full stack."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.complete = False

    async def read(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Fallback
            chunk = message.get("body", b"")
            self.chunks.append(chunk)
            self.size += len(chunk)
            if not message.get("more_body", False):
                self.complete = True
            if self.size > self.limit:
                raise Fallback  # the full stack's BodyLimit answers 413
            if self.complete:
                return

    def data(self) -> bytes:
        return b"".join(self.chunks)

    def replay(self, receive: Receive) -> Receive:
        """``receive`` for the full stack: the body read so far, then the rest of the stream."""
        if not self.chunks:
            return receive
        return replay_body(self.data(), receive, more_body=not self.complete)
