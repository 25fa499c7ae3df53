"""Pure-ASGI middleware (no BaseHTTPMiddleware: it buffers bodies and breaks streaming).

``GuardMiddleware`` refuses URLs carrying NUL bytes before any route sees them (a database
cannot store them, and they are never legitimate), refuses a query parameter given twice on the
API (every parameter of ``/api/v1`` takes one value; silently using the last of two would act on
something the caller did not mean), and adds security headers to every response.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referkit.errors import problem_response

SECURITY_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-frame-options", "DENY"),
)
RAW_SECURITY_HEADERS = tuple((name.encode(), value.encode()) for name, value in SECURITY_HEADERS)
"""The same, as ASGI header pairs, for the handlers answering ahead of this middleware."""


class GuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(message["headers"])
            await send(message)

        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        query: bytes = scope.get("query_string", b"")
        if b"%00" in raw_path or b"\x00" in raw_path or "\x00" in scope["path"]:
            response = problem_response(404, "not_found", "Not found", "No such resource.")
            await response(scope, receive, send_with_headers)
            return
        if b"%00" in query or b"\x00" in query:
            response = problem_response(
                422,
                "validation_error",
                "Invalid request",
                "Query parameters must not contain NUL characters.",
                errors=[
                    {
                        "field": "query",
                        "in": "query",
                        "message": "NUL character",
                        "type": "value_error",
                    }
                ],
            )
            await response(scope, receive, send_with_headers)
            return
        repeated = _repeated_parameter(scope["path"], query)
        if repeated is not None:
            response = problem_response(
                422,
                "validation_error",
                "Invalid request",
                f"The query parameter {repeated!r} is given more than once; send it once.",
                errors=[
                    {
                        "field": repeated,
                        "in": "query",
                        "message": "given more than once",
                        "type": "value_error",
                    }
                ],
            )
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def with_security_headers(raw_headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``raw_headers`` with each security header the response does not set itself.

    A page that lists who may frame it (the embedded dashboard) does not also get
    X-Frame-Options: DENY, as browsers that still read it would refuse every host. Names are
    compared as raw ASGI pairs, as Starlette's ``Headers`` compares them.
    """
    headers = list(raw_headers)
    names = [name for name, _ in headers]
    framed = False
    for name, value in headers:
        if name == b"content-security-policy":
            framed = b"frame-ancestors" in value
            break
    for name, value in RAW_SECURITY_HEADERS:
        if name not in names and not (framed and name == b"x-frame-options"):
            headers.append((name, value))
    return headers


def _repeated_parameter(path: str, query: bytes) -> str | None:
    """The first query parameter named twice on an ``/api/v1`` path, or None."""
    if not query or not path.startswith("/api/v1/") or b"&" not in query:
        return None  # one parameter cannot be given twice
    text = query.decode("latin-1")
    if "%" in text or "+" in text:  # names to decode: parse_qsl's way
        names = [name for name, _ in parse_qsl(text, keep_blank_values=True)]
    else:  # the names as they stand (what parse_qsl would make of them)
        names = [part.partition("=")[0] for part in text.split("&") if part]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None
