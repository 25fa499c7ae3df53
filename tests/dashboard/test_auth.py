"""Sign-in, sessions (expiry, revocation), CSRF, throttling and roles, over HTTP."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from referkit.config import Settings
from referkit.dashboard.service import Role
from referkit.db.session import SessionFactory
from referkit.kit.time import utcnow
from referkit.models import DashboardSession
from tests.conftest import running
from tests.dashboard.helpers import PASSWORD, csrf_of, new_user, post_form, sign_in


async def test_pages_need_a_session(client: httpx.AsyncClient) -> None:
    response = await client.get("/dashboard/referrals?status=pending")
    assert response.status_code == 303
    assert (
        response.headers["location"]
        == "/dashboard/login?next=/dashboard/referrals%3Fstatus%3Dpending"
    )


async def test_sign_in_sets_a_safe_cookie_and_shows_the_overview(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await new_user(app)
    response = await sign_in(client, user)
    cookie = response.headers["set-cookie"]
    assert "rk_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    page = await client.get("/dashboard")
    assert page.status_code == 200
    assert user.email in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


async def test_secure_cookie_over_https(app: FastAPI) -> None:
    user = await new_user(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        response = await sign_in(http, user)
    assert "Secure" in response.headers["set-cookie"]


async def test_wrong_password_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await new_user(app)
    page = await client.get("/dashboard/login")
    response = await client.post(
        "/dashboard/login",
        data={"email": user.email, "password": "wrong password", "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 401
    assert "email or password is wrong" in response.text
    assert (await client.get("/dashboard")).status_code == 303


async def test_sign_in_form_without_its_token_is_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await new_user(app)
    await client.get("/dashboard/login")
    response = await client.post(
        "/dashboard/login", data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "rk_session" not in response.headers.get("set-cookie", "")


async def test_state_changes_without_csrf_token_are_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await new_user(app)
    await sign_in(client, user)
    refused = await client.post(
        "/dashboard/programs/new", data={"name": "X", "landing_url": "https://example.com"}
    )
    assert refused.status_code == 403
    assert "Form expired or forged" in refused.text
    forged = await client.post("/dashboard/logout", data={"csrf_token": "not-the-token"})
    assert forged.status_code == 403
    assert (await client.get("/dashboard")).status_code == 200  # still signed in


async def test_account_throttled_after_failures(settings: Settings) -> None:
    async with running(settings, dashboard_login_failures=3) as (app, client):
        user = await new_user(app)
        for _ in range(3):
            page = await client.get("/dashboard/login")
            wrong = await client.post(
                "/dashboard/login",
                data={
                    "email": user.email,
                    "password": "nope nope nope",
                    "csrf_token": csrf_of(page.text),
                },
            )
            assert wrong.status_code == 401
        page = await client.get("/dashboard/login")
        response = await client.post(
            "/dashboard/login",
            data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        )
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) > 0


async def test_ip_throttled_across_accounts(settings: Settings) -> None:
    async with running(settings, dashboard_login_ip_failures=2) as (app, client):
        user = await new_user(app)
        for n in range(2):
            page = await client.get("/dashboard/login")
            await client.post(
                "/dashboard/login",
                data={
                    "email": f"nobody{n}@example.com",
                    "password": "x" * 12,
                    "csrf_token": csrf_of(page.text),
                },
            )
        page = await client.get("/dashboard/login")
        response = await client.post(
            "/dashboard/login",
            data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        )
        assert response.status_code == 429


async def _age_sessions(app: FastAPI, email_workspace: str, **values: object) -> None:
    sessions: SessionFactory = app.state.sessions
    async with sessions.transaction() as session:
        await session.execute(
            update(DashboardSession)
            .where(DashboardSession.workspace_id == email_workspace)
            .values(**values)
        )


async def test_idle_session_expires(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await new_user(app)
    await sign_in(client, user)
    assert (await client.get("/dashboard")).status_code == 200
    await _age_sessions(app, user.workspace_id, last_seen_at=utcnow() - timedelta(hours=3))
    assert (await client.get("/dashboard")).status_code == 303


async def test_activity_is_recorded_on_a_page_view(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await new_user(app)
    await sign_in(client, user)
    seen = utcnow() - timedelta(minutes=5)  # past the minute resolution: this view writes
    await _age_sessions(app, user.workspace_id, last_seen_at=seen)
    for path in ("/dashboard", "/dashboard/programs", "/dashboard/settings"):
        page = await client.get(path)
        assert page.status_code == 200, page.text
        assert user.email in page.text  # the viewer is still whole after the write
        await _age_sessions(app, user.workspace_id, last_seen_at=seen)
    page = await client.get("/dashboard/members")
    assert page.status_code == 200
    sessions: SessionFactory = app.state.sessions
    async with sessions.transaction() as session:
        rows = await session.execute(
            select(DashboardSession.last_seen_at).where(
                DashboardSession.workspace_id == user.workspace_id
            )
        )
        assert rows.scalar_one() > seen + timedelta(minutes=4)


async def test_absolute_expiry(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await new_user(app)
    await sign_in(client, user)
    await _age_sessions(app, user.workspace_id, expires_at=utcnow() - timedelta(seconds=1))
    assert (await client.get("/dashboard")).status_code == 303


async def test_sign_out_revokes_the_session(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await new_user(app)
    await sign_in(client, user)
    stolen = client.cookies.get("rk_session", path="/dashboard")
    response = await post_form(client, "/dashboard/logout")
    assert response.status_code == 303
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        other.cookies.set("rk_session", stolen or "", path="/dashboard")
        assert (await other.get("/dashboard")).status_code == 303


async def test_viewer_cannot_change_anything(app: FastAPI, client: httpx.AsyncClient) -> None:
    viewer = await new_user(app, role=Role.viewer)
    await sign_in(client, viewer)
    page = await client.get("/dashboard/programs")
    assert page.status_code == 200
    response = await post_form(
        client,
        "/dashboard/programs/new",
        {"name": "Nope", "landing_url": "https://example.com/"},
    )
    assert response.status_code == 403
    assert "Viewers" in response.text


async def test_change_password_ends_other_sessions(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await new_user(app)
    await sign_in(client, user)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await sign_in(other, user)
        wrong = await post_form(
            client,
            "/dashboard/settings/password",
            {"current_password": "not it at all", "new_password": "a brand new password"},
        )
        assert wrong.status_code == 422
        assert "current password is wrong" in wrong.text
        changed = await post_form(
            client,
            "/dashboard/settings/password",
            {"current_password": PASSWORD, "new_password": "a brand new password"},
        )
        assert changed.status_code == 303
        assert (await client.get("/dashboard/settings")).status_code == 200
        assert (await other.get("/dashboard")).status_code == 303
