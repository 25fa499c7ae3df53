"""``GET|HEAD /r/{code}`` (alias ``/api/c/{code}``): a plain Starlette route.

FastAPI's dependency injection and validation would be most of a redirect's cost, so this route
does only what it must: find the link (in-process cache), record the click through the click
batcher — the 302 is sent only once the click is committed — and answer. Only destinations
stored on the link (or its program's landing URL) are ever used: nothing from the request
reaches the ``Location`` header except the code's own click id.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import re
import secrets
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from referkit.config import Settings
from referkit.kit.ids import new_id
from referkit.kit.net import client_ip
from referkit.kit.time import utcnow
from referkit.link.clicks import ClickJob
from referkit.link.detect import is_bot, platform_of

logger = logging.getLogger("referkit.redirect")

VISITOR_COOKIE = "rk_vid"
_VISITOR_RE = re.compile(r"^[0-9a-f]{32}$")
_COOKIE_MAX_AGE = 365 * 24 * 3600
_MAX_CODE = 64

_NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Link not found</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
color:#222}h1{font-size:1.5rem}code{background:#f3f3f3;padding:.1rem .3rem}</style></head>
<body><h1>This link doesn't go anywhere (any more)</h1>
<p>The link <code>%s</code> is unknown or has expired. Check that it was copied completely,
or ask whoever shared it for a new one.</p></body></html>"""

_UNAVAILABLE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Try again</title></head><body><h1>Something went wrong on our side</h1>
<p>Please reload this page in a moment.</p></body></html>"""


@lru_cache(maxsize=4)
def _daily_salt(key: bytes, day: date) -> bytes:
    return hmac.new(key, b"visitor-salt:" + day.isoformat().encode(), hashlib.sha256).digest()


def visitor_hash(key: bytes, now: datetime, ip: str, user_agent: str) -> str:
    """Salted hash of IP + user agent; the salt changes every UTC day, so hashes do too."""
    salt = _daily_salt(key, now.date())
    return hmac.new(salt, f"{ip}\n{user_agent}".encode(), hashlib.sha256).hexdigest()[:32]


def reach_key(vhash: str, link_id: str, now: datetime) -> str:
    """One reach per visitor per link per UTC hour."""
    raw = f"{vhash}|{link_id}|{now:%Y-%m-%dT%H}".encode()
    return hashlib.sha256(raw).hexdigest()


def with_params(url: str, params: list[tuple[str, str]]) -> str:
    """``url`` with ``params`` appended to its query (keeping its own values and fragment)."""
    parts = urlsplit(url)
    existing = parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _ in existing}
    added = [(n, v) for n, v in params if n not in present or n == "rk_click"]
    query = urlencode([(n, v) for n, v in existing if n != "rk_click"] + added)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def destination(target: dict[str, Any], platform: str, click_id: str) -> str | None:
    url = None
    if platform == "ios":
        url = target["ios_url"]
    elif platform == "android":
        url = target["android_url"]
    url = url or target["destination_url"] or target["landing_url"]
    if not url:
        return None
    utm = [(f"utm_{name}", value) for name, value in (target["utm"] or {}).items() if value]
    return with_params(url, [*utm, ("rk_click", click_id)])


def _live(target: dict[str, Any] | None, now: datetime) -> bool:
    if target is None or target["archived_at"] is not None:
        return False
    expires_at: datetime | None = target["expires_at"]
    return expires_at is None or expires_at > now


async def redirect(request: Request) -> Response:
    state = request.app.state
    settings: Settings = state.settings
    if settings.redirect_rate_limit and not await state.limiter.allow(
        "redirect",
        client_ip(request.scope, settings.trusted_networks),
        settings.redirect_rate_limit,
    ):
        # Generous per-IP flood protection; no RateLimit headers on redirects.
        return Response(
            "Too many requests from your address; try again in a minute.\n",
            status_code=429,
            media_type="text/plain",
            headers={"Retry-After": "60"},
        )
    code = request.path_params["code"][:_MAX_CODE]
    target = await state.link_cache.get(code.lower())
    now = utcnow()
    user_agent = request.headers.get("user-agent", "")[:1000]
    bot = request.method == "HEAD" or is_bot(user_agent)
    visitor = request.cookies.get(VISITOR_COOKIE, "")
    new_visitor = _VISITOR_RE.match(visitor) is None
    if new_visitor:
        visitor = secrets.token_hex(16)
    ip = client_ip(request.scope, settings.trusted_networks)
    vhash = visitor_hash(settings.signing_key, now, ip, user_agent)
    live = _live(target, now)
    click_id = new_id("clk")
    platform = platform_of(user_agent)
    location = destination(target, platform, click_id) if live and target else None
    live = location is not None
    if settings.click_recording:
        job = ClickJob(
            row={
                "id": click_id,
                "workspace_id": target["workspace_id"] if target else None,
                "livemode": target["livemode"] if target else None,
                "link_id": target["id"] if target else None,
                "program_id": target["program_id"] if target else None,
                "member_id": target["member_id"] if target else None,
                "code": code,
                "visitor_id": visitor,
                "visitor_hash": vhash,
                "platform": platform,
                "is_bot": bot,
                "is_orphan": not live,
                "user_agent": user_agent or None,
                "referer": (request.headers.get("referer") or "")[:2048] or None,
                "destination_url": location,
                "created_at": now,
            },
            reach_key=reach_key(vhash, target["id"], now) if live and target and not bot else None,
        )
        try:
            await state.ingest.clicks.submit(job)
        except Exception:
            logger.exception("could not record a click on %r", code)
            return HTMLResponse(_UNAVAILABLE_PAGE, status_code=503, headers={"retry-after": "1"})
    if location is None:
        response: Response = HTMLResponse(
            _NOT_FOUND_PAGE % html.escape(code),
            status_code=404,
            headers={"cache-control": "no-store"},
        )
    else:
        response = Response(
            status_code=302, headers={"location": location, "cache-control": "no-store"}
        )
    if new_visitor:
        response.set_cookie(
            VISITOR_COOKIE,
            visitor,
            max_age=_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=settings.base_url.startswith("https://"),
        )
    return response


class RedirectRoutes:
    """Dispatch ``/r/{code}`` and ``/api/c/{code}`` before the API's middleware and router.

    These are plain Starlette routes; matching them here, ahead of the API stack (rate-limit
    headers, idempotency, body limits, FastAPI's router with dozens of routes), keeps a redirect
    close to the cost of a bare ASGI app. Everything else passes through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = [
            Route(path, redirect, methods=["GET", "HEAD"])
            for path in ("/r/{code}", "/api/c/{code}")
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            for route in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    await route.handle(scope, receive, send)
                    return
        await self.app(scope, receive, send)
