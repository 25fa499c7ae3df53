"""API protection middleware (pure ASGI): HTTPS, body size, timeouts, rate-limit headers.

Two clocks bound a request: the body must have arrived within
``REFERKIT_REQUEST_BODY_TIMEOUT_SECONDS`` of the first read (``BodyLimit``, which buffers every
body, and the event intake, which reads its own: 408), and the handling must end within
``REFERKIT_REQUEST_TIMEOUT_SECONDS`` (``Timeout``: 503). A client dribbling a body a byte at a
time would otherwise hold a connection, and the worker's memory, for as long as it likes.

Rate-limit *decisions* are taken in the auth dependency, once the key is known; it leaves the
decision in the request state and ``RateLimitHeaders`` copies it onto whatever response goes out,
error responses included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referkit.errors import problem_response
from referkit.kit.net import Network, request_scheme

API_PREFIX = "/api/"
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class RequireHttps:
    """Refuse plain-HTTP API calls (trusted proxies' X-Forwarded-Proto counts); add HSTS."""

    def __init__(self, app: ASGIApp, *, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if request_scheme(scope, self.trusted) != "https" and scope["path"].startswith(API_PREFIX):
            response = problem_response(
                403, "https_required", "HTTPS required", "This API only answers over HTTPS."
            )
            await response(scope, receive, send)
            return

        async def send_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(HSTS[0].decode(), HSTS[1].decode())
            await send(message)

        await self.app(scope, receive, send_hsts)


_DEADLINE = "referkit.body_deadline"


def body_deadline(scope: Scope, seconds: float) -> float | None:
    """The loop time by which the request's body must have arrived (None: no limit); set by
    the first reader, so a body read partly by the intake and then by the full stack shares
    one deadline."""
    if seconds <= 0:
        return None
    deadline: float | None = scope.get(_DEADLINE)
    if deadline is None:
        deadline = scope[_DEADLINE] = asyncio.get_running_loop().time() + seconds
    return deadline


def body_timeout_response(seconds: float) -> Response:
    return problem_response(
        408,
        "request_body_timeout",
        "Request body timeout",
        f"The request body did not arrive within {seconds:g} s.",
        # The rest of the body may still be on its way: this connection cannot carry another
        # request.
        headers={"Connection": "close"},
    )


class BodyLimit:
    """413 for bodies over the limit: by Content-Length up front, or while reading the body;
    408 for a body that has not arrived in time."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, batch_max_bytes: int, timeout_seconds: float
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.batch_max_bytes = batch_max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.batch_max_bytes if scope["path"].endswith("/batch") else self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(scope, receive, send, limit)
                    return
        # Buffer the body (bounded by the limit, and in time) so an oversize or late one is
        # refused before the app sees any of it; the app then reads it from memory.
        chunks: list[bytes] = []
        received = 0
        try:
            async with asyncio.timeout_at(body_deadline(scope, self.timeout_seconds)):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    received += len(chunk)
                    if received > limit:
                        await self._refuse(scope, receive, send, limit)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await body_timeout_response(self.timeout_seconds)(scope, receive, send)
            return
        await self.app(scope, replay_body(b"".join(chunks), receive), send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            413,
            "payload_too_large",
            "Payload too large",
            f"The request body is larger than {limit} bytes.",
        )
        await response(scope, receive, send)


def replay_body(body: bytes, receive: Receive, *, more_body: bool = False) -> Receive:
    """``receive`` for an app downstream of one that read ``body``: that body as one message
    (with ``more_body`` if the stream goes on), then whatever ``receive`` brings."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": more_body}

    return replay


class Timeout:
    """Answer 503 ``request_timeout`` if a request runs longer than the limit; the request's
    transaction is cancelled and rolled back, so nothing half-done is stored."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if started:
                raise
            await timeout_response(self.seconds)(scope, receive, send)


def timeout_response(seconds: float) -> Response:
    return problem_response(
        503,
        "request_timeout",
        "Request timeout",
        f"The request took longer than {seconds:g} s and was cancelled; retry it.",
        headers={"Retry-After": "1"},
    )


class RateLimitHeaders:
    """Copy the rate-limit decision taken during the request onto the response headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        scope.setdefault("state", {})

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                decision = scope.get("state", {}).get("rate_limit")
                if decision is not None:
                    message["headers"] = with_headers_set(message["headers"], decision.headers())
            await send(message)

        await self.app(scope, receive, send_with_limits)


def with_headers_set(
    raw_headers: Iterable[tuple[bytes, bytes]], values: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """``raw_headers`` with each of ``values`` (lower-case names) set: in place of the first
    header of that name, its repeats dropped, or at the end (``MutableHeaders.__setitem__``,
    on the raw ASGI pairs)."""
    headers = list(raw_headers)
    present = {bytes(name) for name, _ in headers}
    for name, value in values:
        if name not in present:
            headers.append((name, value))
            present.add(name)
            continue
        found = [index for index, (key, _) in enumerate(headers) if key == name]
        for index in reversed(found[1:]):
            del headers[index]
        headers[found[0]] = (name, value)
    return headers
