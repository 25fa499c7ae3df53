"""``GET|HEAD /r/{code}`` (alias ``/api/c/{code}``): a bare ASGI handler.

A redirect is the hottest path of the product, so it skips FastAPI and Starlette's request and
response objects altogether: the application's ``__call__`` hands matching requests straight to
``Redirects``, which reads the few headers it needs from the ASGI scope, finds the link in the
in-process cache, records the click through the click batcher — the 302 is sent only once the
click is committed — and answers with two ASGI messages.

Only destinations stored on the link (or its program's landing URL) are ever used: nothing from
the request reaches the ``Location`` header except the code's own click id.
"""

from __future__ import annotations

import hashlib
import html
import logging
import time
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from starlette.types import Receive, Scope, Send

from referkit.config import Settings
from referkit.kit.crypto import random_bytes
from referkit.kit.ids import new_id
from referkit.kit.net import client_ip
from referkit.kit.time import utcnow
from referkit.link.app_route import AppRoute, app_click_row, preview_page
from referkit.link.cache import Target
from referkit.link.clicks import ClickJob, reach_key
from referkit.link.detect import is_bot, platform_of
from referkit.link.dimensions import NO_DIMENSIONS, dimensions_of
from referkit.middleware import RAW_SECURITY_HEADERS

logger = logging.getLogger("referkit.redirect")

VISITOR_COOKIE = "rk_vid"
PREFIXES = ("/r/", "/api/c/")
_COOKIE_PREFIX = b"rk_vid="
_HEX = frozenset(b"0123456789abcdef")
_COOKIE_MAX_AGE = 365 * 24 * 3600
_MAX_CODE = 64
_NO_STORE = (b"cache-control", b"no-store")
# Pages get the security headers every other response gets from GuardMiddleware; a 302 has no
# content for them to protect (and each header costs the server a little on the hottest path).
_COMMON = [_NO_STORE, *RAW_SECURITY_HEADERS]

_PREVIEW_CSP = (
    b"content-security-policy",
    b"default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
)

_NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Link not found</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
color:#222}h1{font-size:1.5rem}code{background:#f3f3f3;padding:.1rem .3rem}</style></head>
<body><h1>This link doesn't go anywhere (any more)</h1>
<p>The link <code>%s</code> is unknown or has expired. Check that it was copied completely,
or ask whoever shared it for a new one.</p></body></html>"""

_UNAVAILABLE_PAGE = b"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Try again</title></head><body><h1>Something went wrong on our side</h1>
<p>Please reload this page in a moment.</p></body></html>"""


@lru_cache(maxsize=4)
def _daily_salt(key: bytes, day: date) -> bytes:
    return hashlib.blake2b(b"visitor-salt:" + day.isoformat().encode(), key=key[:64]).digest()


def visitor_hash(key: bytes, now: datetime, ip: str, user_agent: str) -> str:
    """Keyed hash of IP + user agent; the key changes every UTC day, so hashes do too."""
    salt = _daily_salt(key, now.date())
    return hashlib.blake2b(f"{ip}\n{user_agent}".encode(), key=salt, digest_size=16).hexdigest()


def new_visitor_id() -> str:
    """32 hex digits: 48 bits of milliseconds, then 80 random bits. New visitors' ids then
    sort by time, so the clicks index on ``visitor_id`` grows at its end (one page per batch
    instead of one random page per new visitor)."""
    return f"{time.time_ns() // 1_000_000:012x}{random_bytes(10).hex()}"


def visitor_cookie(cookie_header: bytes) -> str | None:
    """The ``rk_vid`` value (32 lowercase hex digits) from a Cookie header, if well formed."""
    start = cookie_header.find(_COOKIE_PREFIX)
    while start != -1:
        if start == 0 or cookie_header[start - 1] in b"; ":
            value = cookie_header[start + 7 : start + 39]
            end = start + 39
            if (
                len(value) == 32
                and _HEX.issuperset(value)
                and (end == len(cookie_header) or cookie_header[end] in b"; ")
            ):
                return value.decode()
            return None
        start = cookie_header.find(_COOKIE_PREFIX, start + 1)
    return None


def _html(
    status: int, body: bytes, extra: list[tuple[bytes, bytes]]
) -> tuple[dict[str, Any], bytes]:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *_COMMON,
        *extra,
    ]
    return {"type": "http.response.start", "status": status, "headers": headers}, body


class Redirects:
    """The redirect handler; reads the lifespan's cache, limiter and batcher from ``state``."""

    def __init__(self, state: Any) -> None:
        self.state = state

    @staticmethod
    def matches(scope: Scope) -> int:
        """Length of the route prefix when ``scope`` is a redirect request, else 0."""
        path: str = scope["path"]
        for prefix in PREFIXES:
            if path.startswith(prefix):
                code = path[len(prefix) :]
                if code and "/" not in code and "\x00" not in code:
                    return len(prefix)
                return 0
        return 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send, prefix: int) -> None:
        try:
            start, body = await self._answer(scope, prefix)
        except Exception:
            logger.exception("redirect failed for %r", scope["path"])
            start, body = _html(503, _UNAVAILABLE_PAGE, [(b"retry-after", b"1")])
        await send(start)
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    async def _answer(self, scope: Scope, prefix: int) -> tuple[dict[str, Any], bytes]:
        state = self.state
        settings: Settings = state.settings
        user_agent = referer = ""
        cookie = b""
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value[:1000].decode("latin-1")
            elif name == b"cookie":
                cookie = value
            elif name == b"referer":
                referer = value[:2048].decode("latin-1")
        ip = client_ip(scope, settings.trusted_networks)
        if settings.redirect_rate_limit and not await state.limiter.allow(
            "redirect", ip, settings.redirect_rate_limit
        ):
            # Generous per-IP flood protection; no RateLimit headers on redirects.
            return {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"retry-after", b"60"),
                    *_COMMON,
                ],
            }, b"Too many requests from your address; try again in a minute.\n"
        code = scope["path"][prefix:][:_MAX_CODE]
        cache = state.link_cache
        code_key = code.lower()
        # A hit costs no coroutine; only a miss awaits the database.
        target: Target | None = cache.peek(code_key) or await cache.get(code_key)
        now = utcnow()
        bot = scope["method"] == "HEAD" or is_bot(user_agent)
        visitor = visitor_cookie(cookie) if cookie else None
        new_visitor = visitor is None
        if visitor is None:
            visitor = new_visitor_id()
        vhash = visitor_hash(settings.signing_key, now, ip, user_agent)
        click_id = new_id("clk")
        platform = platform_of(user_agent)
        location = target.location(platform, click_id, now) if target is not None else None
        app = target.app if target is not None else None
        if settings.click_recording:
            live = location is not None and target is not None
            row = {
                "id": click_id,
                # An unknown code has no workspace: "" (PostgreSQL keys clicks by workspace).
                "workspace_id": target.workspace_id if target else "",
                "livemode": target.livemode if target else None,
                "link_id": target.id if target else None,
                "program_id": target.program_id if target else None,
                "member_id": target.member_id if target else None,
                "code": code,
                "visitor_id": visitor,
                "visitor_hash": vhash,
                "platform": platform,
                "is_bot": bot,
                "is_orphan": not live,
                "user_agent": user_agent or None,
                "referer": referer or None,
                "destination_url": location,
                "created_at": now,
            }
            (
                row["country"],
                row["device"],
                row["os"],
                row["browser"],
                row["referrer_host"],
                row["utm_source"],
                row["utm_campaign"],
            ) = (
                # Cached per user agent and address: a repeat costs a few dict probes.
                dimensions_of(
                    ip=ip,
                    user_agent=user_agent,
                    referer=referer,
                    query_string=scope.get("query_string", b""),
                    utm_source=target.utm_source,
                    utm_campaign=target.utm_campaign,
                )
                if live and not bot and target is not None
                else NO_DIMENSIONS
            )
            job = ClickJob(
                row=row,
                reach_key=reach_key(vhash, target.id, now) if live and target and not bot else None,
                app=_app_click(app, row, scope, settings.signing_key, ip, now)
                if app is not None and live
                else None,
            )
            await state.ingest.clicks.submit(job)
        extra = []
        if new_visitor:
            secure = "; Secure" if settings.base_url.startswith("https://") else ""
            extra.append(
                (
                    b"set-cookie",
                    f"{VISITOR_COOKIE}={visitor}; HttpOnly; Max-Age={_COOKIE_MAX_AGE}; Path=/; "
                    f"SameSite=lax{secure}".encode(),
                )
            )
        if location is None:
            page = (_NOT_FOUND_PAGE % html.escape(code)).encode()
            return _html(404, page, extra)
        if app is not None and bot and app.og:
            # Social preview fetchers read the link's Open Graph card, not the store.
            url = f"{settings.base_url}{scope['path']}"
            return _html(200, preview_page(app, url), [*extra, _PREVIEW_CSP])
        headers = [(b"location", location.encode()), (b"content-length", b"0"), _NO_STORE, *extra]
        return {"type": "http.response.start", "status": 302, "headers": headers}, b""


def _app_click(
    app: AppRoute, row: dict[str, Any], scope: Scope, key: bytes, ip: str, now: datetime
) -> dict[str, Any]:
    """The click's ``app_clicks`` row: only app links pay for the query and language parse."""
    language = b""
    for name, value in scope["headers"]:
        if name == b"accept-language":
            language = value[:200]
            break
    return app_click_row(
        app,
        click=row,
        query_string=scope.get("query_string", b""),
        accept_language=language.decode("latin-1"),
        key=key,
        ip=ip,
        now=now,
    )
