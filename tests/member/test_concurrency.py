"""Create-or-fetch under concurrency: racing identical calls must yield exactly one member.

The calls go through the ASGI app concurrently (one event loop, many sessions and connections),
so on PostgreSQL the losers' inserts really wait on the winner's uncommitted row, and on SQLite
the write transactions really queue on the database lock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.factories import Key, create_program

CALLS = 50


def _identity(kind: str) -> dict[str, str]:
    token = uuid.uuid4().hex[:12]
    email = f"racer-{token}@example.com"
    external_id = f"racer-{token}"
    return {
        "email": {"email": email},
        "external_id": {"external_id": external_id},
        "both": {"email": email, "external_id": external_id},
    }[kind]


@pytest.mark.parametrize("kind", ["email", "external_id", "both"])
async def test_concurrent_create_or_fetch_makes_one_member(
    client: httpx.AsyncClient, key: Key, kind: str
) -> None:
    program = await create_program(client, key)
    path = f"/api/v1/programs/{program['id']}/members"
    body: dict[str, Any] = {**_identity(kind), "name": "Racer"}

    responses = await asyncio.gather(
        *(client.post(path, json=body, headers=key.headers) for _ in range(CALLS))
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 200: CALLS - 1}, [r.text for r in responses if r.status_code >= 300]
    ids = {response.json()["id"] for response in responses}
    codes = {response.json()["referral_code"] for response in responses}
    assert len(ids) == 1
    assert len(codes) == 1

    lookup = {"email": body["email"]} if "email" in body else {"external_id": body["external_id"]}
    listed = await client.get(path, params={**lookup, "offset": 0}, headers=key.headers)
    assert listed.status_code == 200
    assert listed.json()["meta"]["total"] == 1
    assert [m["id"] for m in listed.json()["data"]] == list(ids)
    everyone = await client.get(path, params={"offset": 0}, headers=key.headers)
    assert everyone.json()["meta"]["total"] == 1
