"""Referral Factory's API as its documentation uses it (developers.referral-factory.com):
Bearer token, ``/api/v2/users`` create-or-fetch answering the referral link in ``url``,
qualification of leads, search, campaigns, page/per_page paging."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import Key, create_program, new_key


async def _user(client: httpx.AsyncClient, key: Key, **body: Any) -> httpx.Response:
    return await client.post("/api/v2/users", json=body, headers=key.headers)


async def test_first_example_creates_or_fetches_a_user_with_its_link(
    client: httpx.AsyncClient, key: Key
) -> None:
    campaign = await create_program(client, key)
    body = {"campaign_id": campaign["id"], "first_name": "Jane", "email": "jane@example.com"}
    created = await _user(client, key, **body)
    assert created.status_code == 201, created.text
    user = created.json()["data"]
    assert user["type"] == "person_referring"
    assert user["url"].endswith("/r/" + user["code"])
    assert user["first_name"] == "Jane"
    again = await _user(client, key, **body)
    assert again.status_code == 200
    assert again.json()["data"]["id"] == user["id"]
    for identifier in (user["id"], "jane@example.com", user["code"]):
        found = await client.get(f"/api/v2/users/{identifier}", headers=key.headers)
        assert found.status_code == 200, found.text
        assert found.json()["data"]["id"] == user["id"]


async def test_a_lead_is_qualified_searched_and_unqualified(
    client: httpx.AsyncClient, key: Key
) -> None:
    campaign = await create_program(client, key)
    referrer = (
        await _user(client, key, campaign_id=campaign["id"], first_name="R", email="r@example.com")
    ).json()["data"]
    lead = await _user(
        client,
        key,
        campaign_id=campaign["id"],
        first_name="Lee",
        email="lee@example.com",
        referrer_code=referrer["code"],
    )
    assert lead.status_code == 201, lead.text
    assert lead.json()["data"]["referrer_id"] == referrer["id"]
    qualified = await client.put(
        "/api/v2/users/qualification",
        json={"email": "lee@example.com", "campaign_id": campaign["id"], "qualified": True},
        headers=key.headers,
    )
    assert qualified.status_code == 200, qualified.text
    assert qualified.json()["data"]["qualified_at"] is not None
    search = await client.post(
        "/api/v2/users/search",
        json={"campaign_id": campaign["id"], "type": "person_invited", "email": "lee@example.com"},
        headers=key.headers,
    )
    assert search.status_code == 200, search.text
    assert [u["id"] for u in search.json()["data"]] == [lead.json()["data"]["id"]]
    unqualified = await client.put(
        "/api/v2/users/qualification",
        json={"id": lead.json()["data"]["id"], "qualified": False},
        headers=key.headers,
    )
    assert unqualified.json()["data"]["status"] == "denied"


async def test_update_delete_and_paging(client: httpx.AsyncClient, key: Key) -> None:
    campaign = await create_program(client, key)
    ids = []
    for n in range(5):
        response = await _user(
            client, key, campaign_id=campaign["id"], first_name=f"U{n}", email=f"u{n}@example.com"
        )
        ids.append(response.json()["data"]["id"])
    page = await client.get(
        "/api/v2/users",
        params={"campaign_id": campaign["id"], "page": 2, "per_page": 2},
        headers=key.headers,
    )
    assert page.status_code == 200, page.text
    assert page.json()["meta"] == {"current_page": 2, "per_page": 2, "total": 5, "last_page": 3}
    assert len(page.json()["data"]) == 2
    too_big = await client.get("/api/v2/users", params={"per_page": 251}, headers=key.headers)
    assert too_big.status_code == 422
    assert "per_page" in too_big.json()["errors"]
    renamed = await client.put(
        f"/api/v2/users/{ids[0]}", json={"first_name": "Renamed"}, headers=key.headers
    )
    assert renamed.json()["data"]["first_name"] == "Renamed"
    deleted = await client.delete(f"/api/v2/users/{ids[0]}", headers=key.headers)
    assert deleted.status_code == 200
    missing = await client.get(f"/api/v2/users/{ids[0]}", headers=key.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


async def test_campaigns_and_tenancy(client: httpx.AsyncClient, key: Key, app: Any) -> None:
    campaign = await create_program(client, key, name="Spring")
    listed = await client.get("/api/v2/campaigns", headers=key.headers)
    assert [c["name"] for c in listed.json()["data"]] == ["Spring"]
    other = await new_key(app)
    hidden = await client.get(f"/api/v2/campaigns/{campaign['id']}", headers=other.headers)
    assert hidden.status_code == 404
    foreign = await _user(
        client, other, campaign_id=campaign["id"], first_name="X", email="x@example.com"
    )
    assert foreign.status_code == 404


async def test_validation_and_auth_errors_in_laravel_shape(
    client: httpx.AsyncClient, key: Key
) -> None:
    anonymous = await client.get("/api/v2/campaigns")
    assert anonymous.status_code == 401
    assert anonymous.json()["message"]
    campaign = await create_program(client, key)
    invalid = await _user(client, key, campaign_id=campaign["id"], email="nope")
    assert invalid.status_code == 422
    assert list(invalid.json()["errors"]) == ["email"]


async def test_the_default_rate_limit_is_600_a_minute(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.get("/api/v2/campaigns", headers=key.headers)
    assert response.headers["RateLimit-Limit"] == "600"


async def test_another_workspace_cannot_touch_users(
    client: httpx.AsyncClient, key: Key, app: Any
) -> None:
    campaign = await create_program(client, key)
    user = (
        await _user(client, key, campaign_id=campaign["id"], first_name="Z", email="z@example.com")
    ).json()["data"]
    other = await new_key(app)
    for response in (
        await client.get(f"/api/v2/users/{user['id']}", headers=other.headers),
        await client.get(f"/api/v2/users/{user['code']}", headers=other.headers),
        await client.delete(f"/api/v2/users/{user['id']}", headers=other.headers),
        await client.put(
            "/api/v2/users/qualification",
            json={"id": user["id"], "qualified": True},
            headers=other.headers,
        ),
    ):
        assert response.status_code == 404, response.text
    still = await client.get(f"/api/v2/users/{user['id']}", headers=key.headers)
    assert still.status_code == 200
