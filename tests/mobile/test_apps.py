"""Apps CRUD, tenancy, test mode, and programs and links that belong to an app."""

from __future__ import annotations

import httpx

from referkit.auth.principal import Mode, Scope
from tests.factories import Key, create_program, new_key
from tests.mobile.factories import FINGERPRINT, create_app


async def test_app_crud(client: httpx.AsyncClient, key: Key) -> None:
    app = await create_app(client, key, name="Example")
    assert app["id"].startswith("app_")
    assert app["attribution"] == {
        "click_window_days": 7,
        "probabilistic_window_hours": 24,
        "reattribution_window_days": 90,
    }
    assert app["platforms"]["android"]["sha256_cert_fingerprints"] == [FINGERPRINT]
    got = await client.get(f"/api/v1/apps/{app['id']}", headers=key.headers)
    assert got.status_code == 200
    assert got.json()["name"] == "Example"
    patched = await client.patch(
        f"/api/v1/apps/{app['id']}",
        json={
            "name": "Renamed",
            "attribution": {"probabilistic_window_hours": 0},
            "platforms": {"ios": {"store_url": "https://apps.apple.com/app/id1"}, "web": None},
        },
        headers=key.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Renamed"
    assert patched.json()["attribution"]["probabilistic_window_hours"] == 0
    platforms = patched.json()["platforms"]
    assert platforms["ios"]["team_id"] == "ABCDE12345"
    assert platforms["ios"]["store_url"] == "https://apps.apple.com/app/id1"
    assert "web" not in platforms
    assert platforms["android"]["package"] == "com.example.app"
    listed = await client.get("/api/v1/apps", headers=key.headers)
    assert [a["id"] for a in listed.json()["data"]] == [app["id"]]
    assert listed.json()["meta"]["hasMore"] is False
    deleted = await client.delete(f"/api/v1/apps/{app['id']}", headers=key.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/apps/{app['id']}", headers=key.headers)
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"


async def test_invalid_settings_are_422(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.post(
        "/api/v1/apps",
        json={"name": "X", "platforms": {"android": {"sha256_cert_fingerprints": ["nope"]}}},
        headers=key.headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_tenancy_and_test_mode(app: object, client: httpx.AsyncClient, key: Key) -> None:
    mine = await create_app(client, key)
    other = await new_key(app)  # type: ignore[arg-type]
    assert (
        await client.get(f"/api/v1/apps/{mine['id']}", headers=other.headers)
    ).status_code == 404
    assert (
        await client.patch(f"/api/v1/apps/{mine['id']}", json={"name": "x"}, headers=other.headers)
    ).status_code == 404
    test = await new_key(app, workspace=None, mode=Mode.test)  # type: ignore[arg-type]
    assert (await client.get(f"/api/v1/apps/{mine['id']}", headers=test.headers)).status_code == 404
    listed = await client.get("/api/v1/apps", headers=other.headers)
    assert listed.json()["data"] == []


async def test_programs_and_links_may_belong_to_an_app(
    app: object, client: httpx.AsyncClient, key: Key
) -> None:
    mobile = await create_app(client, key)
    program = await create_program(client, key, app_id=mobile["id"])
    assert program["app_id"] == mobile["id"]
    link = await client.post(
        "/api/v1/links",
        json={"app_id": mobile["id"], "destination_url": "https://example.com/x"},
        headers=key.headers,
    )
    assert link.status_code == 201, link.text
    assert link.json()["app_id"] == mobile["id"]
    other = await new_key(app)  # type: ignore[arg-type]
    refused = await client.post(
        "/api/v1/programs",
        json={"name": "P", "landing_url": "https://example.com", "app_id": mobile["id"]},
        headers=other.headers,
    )
    assert refused.status_code == 422
    assert "No app" in refused.json()["detail"]
    unknown = await client.post(
        "/api/v1/links",
        json={"app_id": "app_01jd9x4k6b8v2q3r5s7t9w1y3z", "destination_url": "https://e.com"},
        headers=key.headers,
    )
    assert unknown.status_code == 422


async def test_scopes(app: object, client: httpx.AsyncClient, key: Key) -> None:
    mobile = await create_app(client, key)
    analytics = await new_key(app, workspace=None, scope=Scope.analytics)  # type: ignore[arg-type]
    assert (
        await client.post("/api/v1/apps", json={"name": "x"}, headers=analytics.headers)
    ).status_code == 403
    assert (
        await client.get(f"/api/v1/apps/{mobile['id']}", headers=analytics.headers)
    ).status_code == 403


async def test_wiping_test_data_removes_test_apps(app: object, client: httpx.AsyncClient) -> None:
    test = await new_key(app, mode=Mode.test)  # type: ignore[arg-type]
    mobile = await create_app(client, test)
    installed = await client.post(
        f"/api/v1/apps/{mobile['id']}/installs",
        json={"device": {"os": "ios", "idfv": "x"}},
        headers=test.headers,
    )
    assert installed.status_code == 201
    wiped = await client.delete("/api/v1/test-data", headers=test.headers)
    assert wiped.status_code == 200, wiped.text
    assert wiped.json()["deleted"]["apps"] == 1
    assert wiped.json()["deleted"]["app_devices"] == 1
    assert (
        await client.get(f"/api/v1/apps/{mobile['id']}", headers=test.headers)
    ).status_code == 404
