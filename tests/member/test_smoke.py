from __future__ import annotations

import httpx

from tests.factories import Key, create_member, create_program


async def test_create_then_fetch_member(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    first = await client.post(
        f"/api/v1/programs/{program['id']}/members",
        json={"email": "Jane@Example.com", "name": "Jane"},
        headers=key.headers,
    )
    assert first.status_code == 201
    again = await create_member(client, key, program["id"], email="jane@example.com")
    assert again["id"] == first.json()["id"]
    assert again["referral_link"].endswith("/r/" + again["referral_code"])
