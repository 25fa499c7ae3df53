"""Dashboard test helpers: users made through the service (as the CLI does), and a browser-like
client that signs in through the real form and posts forms with their CSRF token."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from referkit.dashboard.service import Role, UserService
from referkit.db.session import SessionFactory
from tests.factories import Key, new_key

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class User:
    email: str
    password: str
    key: Key  # a full live API key of the same workspace, for setting up data

    @property
    def workspace_id(self) -> str:
        return self.key.workspace_id


async def new_user(
    app: FastAPI, *, role: Role = Role.admin, key: Key | None = None, email: str | None = None
) -> User:
    """A dashboard user in ``key``'s workspace (a fresh workspace by default)."""
    key = key or await new_key(app)
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    sessions: SessionFactory = app.state.sessions
    async with sessions.transaction() as session:
        users = UserService(session)
        user = await users.by_email(email) or await users.create(email, PASSWORD)
        await users.grant(user.id, key.workspace_id, role)
    return User(email=email, password=PASSWORD, key=key)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, user: User) -> httpx.Response:
    page = await client.get("/dashboard/login")
    assert page.status_code == 200, page.text
    response = await client.post(
        "/dashboard/login",
        data={"email": user.email, "password": user.password, "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 303, response.text
    return response


async def post_form(
    client: httpx.AsyncClient,
    path: str,
    data: dict[str, Any] | None = None,
    *,
    page: str = "/dashboard",
) -> httpx.Response:
    """Post a form the way the browser does, with the CSRF token of a page of the session."""
    token = csrf_of((await client.get(page)).text)
    return await client.post(path, data={**(data or {}), "csrf_token": token})
