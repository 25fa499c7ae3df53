"""Webhook endpoints through HTTP: CRUD, secrets shown once, validation, scopes, tenancy, test
mode, the delivery log's filters and pagination, and the outbox's transaction."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Mode, Scope
from referkit.config import Settings
from referkit.db.session import SessionFactory
from referkit.webhook.service import WebhookService
from tests.factories import Key, create_program, new_key
from tests.webhook.conftest import messages, subscribe

URL = "https://hooks.example.com/referkit"


async def test_crud_and_the_secret_is_shown_once(client: httpx.AsyncClient, key: Key) -> None:
    created = await subscribe(
        client, key, URL, ["member.created", "member.created"], description="CRM"
    )
    assert created["id"].startswith("wh_")
    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) >= len("whsec_") + 32  # ≥ 24 random bytes, base64
    assert created["events"] == ["member.created"]
    assert (created["enabled"], created["source"], created["livemode"]) == (True, "api", True)
    path = f"/api/v1/webhooks/{created['id']}"

    got = await client.get(path, headers=key.headers)
    assert got.status_code == 200
    assert "secret" not in got.json()
    listed = await client.get("/api/v1/webhooks", headers=key.headers)
    assert [w["id"] for w in listed.json()["data"]] == [created["id"]]

    patched = await client.patch(
        path,
        json={"events": ["*"], "enabled": False, "description": None, "url": URL + "/v2"},
        headers=key.headers,
    )
    assert patched.status_code == 200
    body = patched.json()
    assert (body["events"], body["enabled"], body["description"]) == (["*"], False, None)
    assert body["url"] == URL + "/v2"
    assert body["disabled_reason"] is None  # disabled by the user, not by Referkit

    for field in ("url", "events", "enabled"):
        refused = await client.patch(path, json={field: None}, headers=key.headers)
        assert refused.status_code == 422, field

    assert (await client.delete(path, headers=key.headers)).status_code == 204
    assert (await client.get(path, headers=key.headers)).status_code == 404
    assert (await client.delete(path, headers=key.headers)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x"},
        {"url": "not a url"},
        {"url": URL, "events": ["member.exploded"]},
        {"url": URL, "events": []},
        {"url": URL, "unknown": 1},
    ],
)
async def test_invalid_endpoints_are_422(
    client: httpx.AsyncClient, key: Key, body: dict[str, object]
) -> None:
    response = await client.post("/api/v1/webhooks", json=body, headers=key.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_private_targets_are_refused_unless_allowed(settings: Settings) -> None:
    from referkit.app import create_app

    app = create_app(settings.model_copy(update={"webhook_allow_private_targets": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            key = await new_key(app)
            for url in ("http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://localhost/x"):
                response = await client.post(
                    "/api/v1/webhooks", json={"url": url}, headers=key.headers
                )
                assert response.status_code == 422, url
            ok = await client.post("/api/v1/webhooks", json={"url": URL}, headers=key.headers)
            assert ok.status_code == 201


async def test_read_only_keys_cannot_write(app: FastAPI, client: httpx.AsyncClient) -> None:
    key = await new_key(app)
    reader = await new_key(app, workspace=await _workspace_name(client, key), scope=Scope.read_only)
    created = await subscribe(client, key, URL)
    denied = await client.post("/api/v1/webhooks", json={"url": URL}, headers=reader.headers)
    assert denied.status_code == 403
    test = await client.post(f"/api/v1/webhooks/{created['id']}/test", headers=reader.headers)
    assert test.status_code == 403
    listed = await client.get(f"/api/v1/webhooks/{created['id']}", headers=reader.headers)
    assert listed.status_code == 200


async def _workspace_name(client: httpx.AsyncClient, key: Key) -> str:
    name: str = (await client.get("/api/v1/workspace", headers=key.headers)).json()["name"]
    return name


async def test_another_workspace_gets_404_everywhere(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    mine = await subscribe(client, key, URL)
    message = (await client.post(f"/api/v1/webhooks/{mine['id']}/test", headers=key.headers)).json()
    other = await new_key(app)
    path = f"/api/v1/webhooks/{mine['id']}"
    for method, url in [
        ("GET", path),
        ("PATCH", path),
        ("DELETE", path),
        ("POST", f"{path}/test"),
        ("POST", f"{path}/rotate-secret"),
        ("GET", f"{path}/messages"),
        ("POST", f"/api/v1/webhooks/messages/{message['id']}/retry"),
        ("DELETE", f"/api/v1/hooks/{mine['id']}"),
    ]:
        kwargs = {"json": {"enabled": False}} if method == "PATCH" else {}
        response = await client.request(method, url, headers=other.headers, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 404, (method, url)
        assert response.json()["code"] == "not_found"
    assert (await client.get("/api/v1/webhooks", headers=other.headers)).json()["data"] == []


async def test_test_mode_sees_and_receives_only_test_data(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    test_key = await new_key(app, workspace=await _workspace_name(client, key), mode=Mode.test)
    live = await subscribe(client, key, URL)
    test = await subscribe(client, test_key, URL)
    assert test["livemode"] is False
    listed = (await client.get("/api/v1/webhooks", headers=test_key.headers)).json()["data"]
    assert [w["id"] for w in listed] == [test["id"]]
    assert (
        await client.get(f"/api/v1/webhooks/{live['id']}", headers=test_key.headers)
    ).status_code == 404

    await create_program(client, test_key)
    assert await messages(client, key, live["id"]) == []
    (message,) = await messages(client, test_key, test["id"])
    assert (message["event_type"], message["livemode"]) == ("program.created", False)
    await create_program(client, key)
    assert len(await messages(client, test_key, test["id"])) == 1


async def test_the_log_filters_and_paginates(client: httpx.AsyncClient, key: Key) -> None:
    endpoint = await subscribe(client, key, URL)
    for _ in range(3):
        await client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=key.headers)
    await create_program(client, key)
    assert len(await messages(client, key, endpoint["id"], type="webhook.test")) == 3
    assert len(await messages(client, key, endpoint["id"], type="program.created")) == 1
    assert len(await messages(client, key, endpoint["id"], status="pending")) == 4
    assert await messages(client, key, endpoint["id"], status="succeeded") == []
    path = f"/api/v1/webhooks/{endpoint['id']}/messages"
    bad = await client.get(path, params={"type": "nope"}, headers=key.headers)
    assert bad.status_code == 422

    first = (await client.get(path, params={"limit": 3}, headers=key.headers)).json()
    assert first["meta"]["hasMore"] is True
    rest = (
        await client.get(
            path, params={"limit": 3, "cursor": first["meta"]["cursor"]}, headers=key.headers
        )
    ).json()
    ids = [m["id"] for m in first["data"] + rest["data"]]
    assert len(ids) == len(set(ids)) == 4
    offset = (await client.get(path, params={"offset": 1, "count": 2}, headers=key.headers)).json()
    assert offset["meta"]["total"] == 4
    assert [m["id"] for m in offset["data"]] == ids[1:3]


async def test_retry_of_an_unknown_message_is_404(client: httpx.AsyncClient, key: Key) -> None:
    for message_id in ("msg_01jd9x4k6b8v2q3r5s7t9w1y3z", "nope"):
        response = await client.post(
            f"/api/v1/webhooks/messages/{message_id}/retry", headers=key.headers
        )
        assert response.status_code == 404


async def test_messages_roll_back_with_the_change(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    endpoint = await subscribe(client, key, URL)
    sessions: SessionFactory = app.state.sessions
    async with sessions() as session:
        written = await WebhookService(session).emit(
            key.workspace_id, True, "program.created", {"id": "prog_x"}
        )
        assert len(written) == 1
        await session.rollback()
    assert await messages(client, key, endpoint["id"]) == []
    async with sessions.transaction() as session:
        await WebhookService(session).emit(
            key.workspace_id, True, "program.created", {"id": "prog_y"}
        )
    (message,) = await messages(client, key, endpoint["id"])
    assert message["payload"]["data"] == {"id": "prog_y"}
    assert message["payload"]["type"] == "program.created"
