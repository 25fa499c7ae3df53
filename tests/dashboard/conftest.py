"""Fixtures for dashboard tests: a signed-in admin client, and a workspace with data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import TEST_BASE_URL
from tests.dashboard.helpers import User, new_user, sign_in
from tests.factories import create_member, create_program


@dataclass
class Seeded:
    program: dict[str, Any]
    member: dict[str, Any]
    referral: dict[str, Any]


@pytest.fixture
async def admin(app: FastAPI) -> User:
    return await new_user(app)


@pytest.fixture
async def browser(app: FastAPI, admin: User) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as ``admin``."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=TEST_BASE_URL) as http:
        await sign_in(http, admin)
        yield http


@pytest.fixture
async def seeded(client: httpx.AsyncClient, admin: User) -> Seeded:
    """A program with a double-sided reward, a member, and a qualified referral (so rewards)."""
    key = admin.key
    program = await create_program(
        client,
        key,
        reward_rules=[
            {
                "recipient": "referrer",
                "trigger": "referral_qualified",
                "kind": "cash",
                "amount": 2000,
                "currency": "USD",
                "description": "$20 for you",
            },
            {
                "recipient": "referee",
                "trigger": "referral_qualified",
                "kind": "credit",
                "amount": 1000,
                "currency": "USD",
                "description": "$10 for your friend",
            },
        ],
    )
    member = await create_member(client, key, program["id"], email="ada@example.com", name="Ada")
    response = await client.post(
        "/api/v1/referrals",
        json={
            "referral_code": member["referral_code"],
            "referee": {"email": "grace@example.com", "name": "Grace"},
        },
        headers=key.headers,
    )
    assert response.status_code == 201, response.text
    referral = response.json()
    qualified = await client.patch(
        f"/api/v1/referrals/{referral['id']}", json={"status": "qualified"}, headers=key.headers
    )
    assert qualified.status_code == 200, qualified.text
    hook = await client.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=key.headers
    )
    assert hook.status_code == 201, hook.text
    return Seeded(program=program, member=member, referral=qualified.json())
