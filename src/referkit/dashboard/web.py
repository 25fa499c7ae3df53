"""The dashboard's HTTP glue: templates, security headers, cookies, the signed-in viewer,
CSRF checks and the role gate. Pages (``dashboard/pages``) use these and the domain services.

Every page answers with a strict Content-Security-Policy (scripts and styles only from
``/dashboard/static``, no inline code), ``Cache-Control: no-store`` and no framing. Every
state-changing request needs the session's CSRF token (a form field, or the ``X-CSRF-Token``
header for scripts); the sign-in form, which has no session yet, uses a double-submit cookie.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, unquote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse, RedirectResponse, Response

from referkit.config import Settings
from referkit.dashboard.charts import money
from referkit.dashboard.exceptions import CsrfRefused, ReadOnlyRole, SignInRequired
from referkit.dashboard.service import Lifetimes, SessionService, Viewer
from referkit.db.session import SessionFactory, TransactionRoute, get_session
from referkit.errors import ReferkitError, Unprocessable
from referkit.kit.net import client_ip, request_scheme

PREFIX = "/dashboard"
SESSION_COOKIE = "rk_session"
LOGIN_CSRF_COOKIE = "rk_login_csrf"
FLASH_COOKIE = "rk_flash"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "dashboard"
STATIC = Path(__file__).resolve().parent.parent / "static" / "dashboard"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
PAGE_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["unquote"] = unquote
env.filters["money"] = lambda amount, unit: money(int(amount or 0), unit or "")
Session = Annotated[AsyncSession, Depends(get_session)]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def lifetimes(settings: Settings) -> Lifetimes:
    return Lifetimes(
        idle=timedelta(minutes=settings.dashboard_idle_minutes),
        absolute=timedelta(hours=settings.dashboard_session_hours),
    )


def secure_request(request: Request) -> bool:
    """Cookies get ``Secure`` when the browser talks HTTPS (directly or via a trusted proxy)."""
    settings = settings_of(request)
    return request_scheme(request.scope, settings.trusted_networks) == "https"


def ip_of(request: Request) -> str:
    return client_ip(request.scope, settings_of(request).trusted_networks)


def set_cookie(request: Request, response: Response, name: str, value: str, **kw: Any) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=secure_request(request),
        path=PREFIX,
        **kw,
    )


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    viewer: Viewer | None = None,
) -> HTMLResponse:
    viewer = viewer or getattr(request.state, "viewer", None)
    flash = request.cookies.get(FLASH_COOKIE)
    body = env.get_template(template).render(
        request=request,
        viewer=viewer,
        csrf=viewer.session.csrf_token if viewer else "",
        flash=flash,
        path=request.url.path,
        **(context or {}),
    )
    response = HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def redirect(request: Request, url: str, flash: str | None = None) -> RedirectResponse:
    """303 after a successful form post, with a one-time notice for the next page."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        set_cookie(request, response, FLASH_COOKIE, quote(flash)[:300], max_age=60)
    return response


async def form_data(request: Request) -> dict[str, list[str]]:
    """The url-encoded form body (every field as a list: checkboxes repeat)."""
    body = (await request.body()).decode("utf-8", "replace")
    out: dict[str, list[str]] = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        out.setdefault(name, []).append(value)
    return out


def field(form: Mapping[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[-1].strip() if values else default


def local_path(value: str | None) -> str:
    """Only a dashboard path may be a redirect target (never another site: no open redirect)."""
    if value and value.startswith(PREFIX) and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX


def same_token(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())


# The viewer -----------------------------------------------------------------------------------


async def current_viewer(request: Request, session: Session) -> Viewer:
    service = SessionService(session, lifetimes(settings_of(request)))
    viewer = await service.resolve(request.cookies.get(SESSION_COOKIE))
    if viewer is None:
        raise SignInRequired("Sign in to continue.")
    if SessionService.needs_touch(viewer.session):
        if request.method in ("GET", "HEAD"):
            # A page runs in a read transaction; on SQLite it cannot turn into a write one
            # safely, so activity is recorded in a short write transaction of its own. The
            # rollback expires the viewer's rows (reading them again would be I/O outside the
            # async session), so the viewer is resolved again afterwards.
            session_id = viewer.session.id
            await session.rollback()
            sessions: SessionFactory = request.app.state.sessions
            async with sessions.transaction() as writer:
                await SessionService(writer, service.lifetimes).touch(session_id)
            viewer = await service.resolve(request.cookies.get(SESSION_COOKIE))
            if viewer is None:
                raise SignInRequired("Sign in to continue.")
        else:
            await service.touch(viewer.session.id)
    request.state.viewer = viewer
    return viewer


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]


async def acting_viewer(request: Request, viewer: CurrentViewer) -> Viewer:
    """A signed-in viewer whose state-changing request carries the session's CSRF token."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        sent = field(await form_data(request), "csrf_token") or None
    if not same_token(sent, viewer.session.csrf_token):
        raise CsrfRefused("The form expired or did not come from this dashboard; try again.")
    return viewer


ActingViewer = Annotated[Viewer, Depends(acting_viewer)]


async def admin_viewer(viewer: ActingViewer) -> Viewer:
    if not viewer.is_admin:
        raise ReadOnlyRole("Viewers can look but not change anything in this workspace.")
    return viewer


AdminViewer = Annotated[Viewer, Depends(admin_viewer)]


# Errors as pages ------------------------------------------------------------------------------


class DashboardRoute(TransactionRoute):
    """Answers the dashboard's refusals as HTML pages (or a redirect to sign in) instead of
    the API's problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            # Server time of the page (dependencies, queries and rendering), for browsers'
            # developer tools and bench/dashboard.py.
            started = time.perf_counter()
            response = await answer(request)
            elapsed = (time.perf_counter() - started) * 1000
            response.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
            return response

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                if request.method in ("GET", "HEAD"):
                    target = request.url.path + (
                        f"?{request.url.query}" if request.url.query else ""
                    )
                    return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)
                return error_page(request, SignInRequired("Your session ended; sign in again."))
            except ReferkitError as exc:
                return error_page(request, exc)
            except ValidationError as exc:
                return error_page(request, _invalid(exc))
            except RequestValidationError:  # a malformed query (``?days=abc``)
                return error_page(request, Unprocessable("The address has an invalid value."))

        return route


def _invalid(exc: ValidationError) -> ReferkitError:
    return Unprocessable("; ".join(describe_errors(exc)))


def describe_errors(exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"] if part != "body")
        out.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return out


def error_page(request: Request, exc: ReferkitError) -> HTMLResponse:
    response = render(
        request,
        "error.html",
        {"error": exc, "title": exc.title},
        status_code=exc.status_code,
    )
    for name, value in exc.headers.items():
        response.headers[name] = value
    return response
