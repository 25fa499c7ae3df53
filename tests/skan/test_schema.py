"""GET|PUT /apps/{id}/skan: versions, validation that names the bad rule, tenancy."""

from __future__ import annotations

import copy

import httpx
from fastapi import FastAPI

from tests.factories import Key, new_key
from tests.skan.factories import SCHEMA, put_schema, skan_app


async def test_put_then_get_keeps_versions(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    missing = await client.get(f"/api/v1/apps/{app['id']}/skan", headers=key.headers)
    assert missing.status_code == 404
    first = await put_schema(client, key, app["id"])
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    changed = copy.deepcopy(SCHEMA)
    changed["fine"][1]["value"] = 2
    second = await put_schema(client, key, app["id"], changed)
    assert second.json()["version"] == 2
    got = await client.get(f"/api/v1/apps/{app['id']}/skan", headers=key.headers)
    assert got.status_code == 200
    assert got.json()["version"] == 2
    assert got.json()["fine"][1] == {
        "value": 2,
        "event": "signup",
        "min_count": 1,
        "max_count": None,
        "revenue": None,
    }


async def _problem(client: httpx.AsyncClient, key: Key, app_id: str, schema: dict) -> dict:
    response = await put_schema(client, key, app_id, schema)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict = response.json()
    assert body["code"] == "validation_error"
    return body


async def test_value_out_of_range_names_the_rule(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    schema = copy.deepcopy(SCHEMA)
    schema["fine"][2]["value"] = 64
    body = await _problem(client, key, app["id"], schema)
    assert [e["field"] for e in body["errors"]] == ["fine.2.value"]
    schema = copy.deepcopy(SCHEMA)
    schema["coarse"]["window_2"][0]["value"] = "huge"
    body = await _problem(client, key, app["id"], schema)
    assert body["errors"][0]["field"] == "coarse.window_2.0.value"


async def test_overlap_names_both_rules(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    schema = copy.deepcopy(SCHEMA)
    schema["fine"][3]["revenue"] = {"min": 500, "max": 5000}  # overlaps fine[2]'s 0-1000
    body = await _problem(client, key, app["id"], schema)
    messages = [e["message"] for e in body["errors"]]
    assert any("fine[3] overlaps fine[2]" in m for m in messages), messages
    assert body["errors"][0]["field"] == "fine.3"


async def test_gap_names_the_rule_after_it(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    schema = copy.deepcopy(SCHEMA)
    schema["fine"][3]["revenue"] = {"min": 2000, "max": 5000}  # 1000-2000 is covered by none
    body = await _problem(client, key, app["id"], schema)
    assert body["errors"] == [
        {
            "field": "fine.3.revenue",
            "in": "body",
            "message": "fine[3]: revenue of 'purchase' from 1000 to 2000 matches no rule "
            "(a gap after fine[2])",
            "type": "value_error",
        }
    ]


async def test_repeated_value_and_double_lock(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    schema = copy.deepcopy(SCHEMA)
    schema["fine"][1]["value"] = 0
    schema["locks"].append({"window": 1, "event": "signup"})
    body = await _problem(client, key, app["id"], schema)
    fields = [e["field"] for e in body["errors"]]
    assert fields == ["fine.1.value", "locks.1.window"]
    assert "already given by fine[0]" in body["errors"][0]["message"]


async def test_another_workspace_gets_404(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    mine = await skan_app(client, key)
    assert (await put_schema(client, key, mine["id"])).status_code == 200
    other = await new_key(app)
    response = await client.get(f"/api/v1/apps/{mine['id']}/skan", headers=other.headers)
    assert response.status_code == 404
    response = await put_schema(client, other, mine["id"])
    assert response.status_code == 404
