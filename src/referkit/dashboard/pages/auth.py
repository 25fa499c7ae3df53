"""Signing in and out, invitations, and the workspace and live/test switches.

Failed sign-ins are counted per account and per client IP (in the rate limiter's storage, so
Redis shares them between processes); past the limit, sign-in answers 429 until the window
has moved on, whether or not the password is right.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from referkit.dashboard.exceptions import CsrfRefused, SignInFailed, SignInThrottled
from referkit.dashboard.service import SessionService, UserService
from referkit.dashboard.web import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    ActingViewer,
    DashboardRoute,
    Session,
    field,
    form_data,
    ip_of,
    lifetimes,
    local_path,
    redirect,
    render,
    same_token,
    set_cookie,
    settings_of,
)
from referkit.errors import Conflict, NotFound, Unprocessable
from referkit.kit.crypto import random_token
from referkit.kit.email import canonical_email
from referkit.kit.ratelimit import RateLimiter
from referkit.models import DashboardUser, Workspace

router = APIRouter(prefix=PREFIX, route_class=DashboardRoute, include_in_schema=False)
Token = Annotated[str, Path(max_length=100)]


def _login_form(
    request: Request, template: str, context: dict[str, object], status: int = 200
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or random_token(24)
    response = render(request, template, {**context, "login_csrf": token}, status_code=status)
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


async def _check_login_csrf(request: Request, form: dict[str, list[str]]) -> None:
    if not same_token(field(form, "csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        raise CsrfRefused("The sign-in form expired; reload the page and try again.")


async def _throttled(request: Request, email: str) -> int:
    settings = settings_of(request)
    limiter: RateLimiter = request.app.state.limiter
    window = settings.dashboard_login_window_seconds
    by_account = await limiter.failures_over(
        "dashlogin", f"acct:{email}", settings.dashboard_login_failures, window
    )
    by_ip = await limiter.failures_over(
        "dashlogin", f"ip:{ip_of(request)}", settings.dashboard_login_ip_failures, window
    )
    return max(by_account, by_ip)


async def _count_failure(request: Request, email: str) -> None:
    settings = settings_of(request)
    limiter: RateLimiter = request.app.state.limiter
    window = settings.dashboard_login_window_seconds
    await limiter.count_failure(
        "dashlogin", f"acct:{email}", settings.dashboard_login_failures, window
    )
    await limiter.count_failure(
        "dashlogin", f"ip:{ip_of(request)}", settings.dashboard_login_ip_failures, window
    )


async def _sign_in(request: Request, session: Session, email: str, password: str) -> DashboardUser:
    """The user with these credentials, throttled per account and IP."""
    key = email.strip().lower()
    wait = await _throttled(request, key)
    if wait:
        raise SignInThrottled(
            f"Too many failed sign-ins; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    try:
        return await UserService(session).authenticate(email, password)
    except SignInFailed:
        await _count_failure(request, key)
        raise


async def _start(request: Request, session: Session, user: DashboardUser, target: str) -> Response:
    service = SessionService(session, lifetimes(settings_of(request)))
    row, token = await service.start(
        user, ip=ip_of(request), user_agent=request.headers.get("user-agent")
    )
    response = redirect(request, local_path(target))
    max_age = int((row.expires_at - row.created_at).total_seconds())
    set_cookie(request, response, SESSION_COOKIE, token, max_age=max_age)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.get("/login")
async def login_page(request: Request, session: Session) -> Response:
    service = SessionService(session, lifetimes(settings_of(request)))
    if await service.resolve(request.cookies.get(SESSION_COOKIE)) is not None:
        return redirect(request, local_path(request.query_params.get("next", PREFIX)))
    return _login_form(
        request, "login.html", {"next": request.query_params.get("next", PREFIX), "email": ""}
    )


@router.post("/login")
async def login(request: Request, session: Session) -> Response:
    form = await form_data(request)
    await _check_login_csrf(request, form)
    email, target = field(form, "email"), field(form, "next", PREFIX)
    try:
        user = await _sign_in(request, session, email, field(form, "password"))
    except (SignInFailed, SignInThrottled) as exc:
        response = _login_form(
            request,
            "login.html",
            {"next": target, "email": email, "error": exc.detail},
            status=exc.status_code,
        )
        response.headers.update(exc.headers)
        return response
    return await _start(request, session, user, target)


@router.post("/logout")
async def logout(request: Request, session: Session, viewer: ActingViewer) -> Response:
    service = SessionService(session, lifetimes(settings_of(request)))
    await service.revoke(viewer.user.id, viewer.session.id)
    response = redirect(request, f"{PREFIX}/login", "You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.post("/switch")
async def switch(request: Request, session: Session, viewer: ActingViewer) -> Response:
    form = await form_data(request)
    service = SessionService(session, lifetimes(settings_of(request)))
    workspace_id = field(form, "workspace_id") or None
    mode = field(form, "mode") or None
    if mode not in (None, "live", "test"):
        raise Unprocessable("mode must be live or test")
    await service.switch(viewer, workspace_id, None if mode is None else mode == "live")
    return redirect(request, local_path(field(form, "next", PREFIX)))


@router.get("/invite/{token}")
async def invite_page(request: Request, session: Session, token: Token) -> Response:
    invite = await UserService(session).open_invite(token)
    service = SessionService(session, lifetimes(settings_of(request)))
    viewer = await service.resolve(request.cookies.get(SESSION_COOKIE))
    workspace_name = await _workspace_name(session, invite.workspace_id)
    return _login_form(
        request,
        "invite.html",
        {"invite": invite, "workspace_name": workspace_name, "me": viewer, "token": token},
    )


async def _workspace_name(session: Session, workspace_id: str) -> str:
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("This invitation's workspace no longer exists.")
    return workspace.name


@router.post("/invite/{token}")
async def accept_invite(request: Request, session: Session, token: Token) -> Response:
    form = await form_data(request)
    users = UserService(session)
    invite = await users.open_invite(token)
    service = SessionService(session, lifetimes(settings_of(request)))
    viewer = await service.resolve(request.cookies.get(SESSION_COOKIE))
    if viewer is not None:
        if not same_token(field(form, "csrf_token"), viewer.session.csrf_token):
            raise CsrfRefused("The form expired; reload the page and try again.")
        await users.accept(token, viewer.user)
        return redirect(request, PREFIX, "You joined the workspace.")
    await _check_login_csrf(request, form)
    email = invite.email or field(form, "email")
    password = field(form, "password")
    existing = await users.by_email(email) if "@" in email else None
    try:
        if existing is None:
            user = await users.create(email, password, field(form, "name") or None)
        else:
            user = await _sign_in(request, session, email, password)
        await users.accept(token, user)
    except (SignInFailed, SignInThrottled, Unprocessable, Conflict) as exc:
        workspace_name = await _workspace_name(session, invite.workspace_id)
        return _login_form(
            request,
            "invite.html",
            {
                "invite": invite,
                "workspace_name": workspace_name,
                "me": None,
                "token": token,
                "error": exc.detail,
                "email": canonical_email(email) if "@" in email else email,
            },
            status=exc.status_code,
        )
    return await _start(request, session, user, PREFIX)
