"""POST /api/skan/postback: verified, decoded with the schema, deduplicated, counted once; a
tampered copy is kept and never counted; 2.2, 3 and AdAttributionKit shapes parse."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from referkit.config import Settings
from referkit.models import SkanPostback as SkanPostbackRow
from referkit.models import SkanSchema as SkanSchemaRow
from tests.conftest import running
from tests.factories import Key
from tests.skan.factories import SCHEMA, put_schema, skan_app
from tests.skan.keys import aak_jws, sign_skan, skan4

URL = "/api/skan/postback"


async def _post(client: httpx.AsyncClient, body: Any) -> dict[str, Any]:
    response = await client.post(URL, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _skan_stats(client: httpx.AsyncClient, key: Key, app_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/apps/{app_id}/stats", headers=key.headers)
    assert response.status_code == 200, response.text
    skan: dict[str, Any] = response.json()["skan"]
    return skan


async def test_skan4_verified_decoded_counted_once(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    assert (await put_schema(client, key, app["id"])).status_code == 200
    store_id = app["platforms"]["ios"]["app_store_id"]
    body = skan4(store_id, **{"conversion-value": 20, "coarse-conversion-value": "high"})

    first = await _post(client, body)
    assert first["status"] == "stored"
    assert first["verified"] is True
    assert first["verification"] == "verified with configured key"
    assert first["app_id"] == app["id"]
    again = await _post(client, body)
    assert (again["status"], again["id"]) == ("duplicate", first["id"])

    skan = await _skan_stats(client, key, app["id"])
    assert (skan["installs"], skan["postbacks"], skan["unverified"]) == (1, 1, 0)
    [campaign] = skan["campaigns"]
    assert campaign["source_identifier"] == "5239"
    [window] = campaign["windows"]
    assert window["window"] == 1
    assert window["values"] == [
        {
            "fine": 20,
            "coarse": "high",
            "postbacks": 1,
            "range": {
                "event": "purchase",
                "count": {"min": 1, "max": None},
                "revenue": {"min": 1000, "max": 5000, "currency": "USD"},
            },
        }
    ]
    overview = await client.get(f"/api/v1/apps/{app['id']}/overview", headers=key.headers)
    assert overview.json()["skan"]["installs"] == 1


async def test_tampered_postback_is_kept_not_counted(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    assert (await put_schema(client, key, app["id"])).status_code == 200
    store_id = app["platforms"]["ios"]["app_store_id"]
    genuine = skan4(store_id)
    tampered = {**genuine, "source-identifier": "9999"}  # a signed field changed

    forged = await _post(client, tampered)
    assert (forged["status"], forged["verified"]) == ("stored", False)
    assert forged["verification"] == "signature does not verify"
    # The forgery came first, yet the genuine postback of the same transaction still counts.
    real = await _post(client, genuine)
    assert (real["status"], real["verified"]) == ("stored", True)
    assert (await _post(client, tampered))["status"] == "duplicate"

    skan = await _skan_stats(client, key, app["id"])
    assert (skan["installs"], skan["postbacks"], skan["unverified"]) == (1, 1, 1)
    assert [c["source_identifier"] for c in skan["campaigns"]] == ["5239"]


async def test_unsigned_conversion_values_and_later_windows(
    client: httpx.AsyncClient, key: Key
) -> None:
    """Apple signs no conversion value: only the window-2 coarse value is decoded there."""
    app = await skan_app(client, key)
    assert (await put_schema(client, key, app["id"])).status_code == 200
    store_id = app["platforms"]["ios"]["app_store_id"]
    body = skan4(store_id, **{"postback-sequence-index": 1, "coarse-conversion-value": "medium"})
    body.pop("conversion-value")
    assert (await _post(client, body))["verified"] is True
    [campaign] = (await _skan_stats(client, key, app["id"]))["campaigns"]
    assert campaign["installs"] == 0
    [window] = campaign["windows"]
    assert window["window"] == 2
    assert window["values"][0]["coarse"] == "medium"
    assert window["values"][0]["range"]["event"] == "purchase"


async def test_losing_postback_is_kept_not_counted(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    store_id = app["platforms"]["ios"]["app_store_id"]
    body = skan4(store_id, **{"did-win": False, "source-app-id": None})
    assert (await _post(client, body))["verified"] is True
    skan = await _skan_stats(client, key, app["id"])
    assert (skan["installs"], skan["postbacks"]) == (0, 0)


async def test_skan_3_and_2_2_shapes(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    assert (await put_schema(client, key, app["id"])).status_code == 200
    store_id = int(app["platforms"]["ios"]["app_store_id"])
    common = {
        "ad-network-id": "example123.skadnetwork",
        "campaign-id": 42,
        "app-id": store_id,
        "redownload": True,
        "source-app-id": 1234567891,
        "fidelity-type": 1,
        "conversion-value": 10,
    }
    v3 = sign_skan(
        {"version": "3.0", "transaction-id": str(uuid.uuid4()), "did-win": True, **common}
    )
    v22 = sign_skan({"version": "2.2", "transaction-id": str(uuid.uuid4()), **common})
    for body in (v3, v22):
        answer = await _post(client, body)
        assert answer["verified"] is True, answer
    skan = await _skan_stats(client, key, app["id"])
    [campaign] = skan["campaigns"]
    assert (campaign["source_identifier"], campaign["installs"]) == ("42", 2)
    assert campaign["windows"][0]["values"][0]["range"]["revenue"]["max"] == 1000


async def test_adattributionkit_jws(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    assert (await put_schema(client, key, app["id"])).status_code == 200
    claims = {
        "postback-identifier": str(uuid.uuid4()),
        "advertised-item-identifier": int(app["platforms"]["ios"]["app_store_id"]),
        "ad-network-identifier": "example.adattributionkit",
        "source-identifier": "1234",
        "impression-type": "app-impression",
        "conversion-type": "download",
        "did-win": True,
        "postback-sequence-index": 0,
    }
    jws = aak_jws(claims)
    answer = await _post(client, {"jws-string": jws, "conversion-value": 1})
    assert (answer["verified"], answer["app_id"]) == (True, app["id"])
    bare = await client.post(URL, content=jws, headers={"content-type": "text/plain"})
    assert bare.json()["status"] == "duplicate"
    head, _, signature = jws.split(".")
    forged = aak_jws({**claims, "source-identifier": "9999"}).split(".")[1]
    answer = await _post(client, {"jws-string": f"{head}.{forged}.{signature}"})
    assert answer["verified"] is False
    skan = await _skan_stats(client, key, app["id"])
    assert (skan["installs"], skan["unverified"]) == (1, 1)
    value = skan["campaigns"][0]["windows"][0]["values"][0]
    assert value["range"]["event"] == "signup"


async def test_not_a_postback_is_422(client: httpx.AsyncClient) -> None:
    for content in ("{not json", json.dumps({"version": "4.0"}), "a.b", "[]"):
        response = await client.post(URL, content=content)
        assert response.status_code == 422, (content, response.text)
        assert response.json()["code"] == "validation_error"


async def test_unknown_app_and_version_are_kept(client: httpx.AsyncClient) -> None:
    answer = await _post(client, skan4("1"))
    assert (answer["verified"], answer["app_id"]) == (True, None)
    old = await _post(client, {"version": "1.0", "transaction-id": str(uuid.uuid4())})
    assert (old["verified"], old["verification"]) == (False, "unsupported version 1.0")


async def test_postbacks_belong_to_their_apps_workspace(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    """The app is found before the row is stored: the row is its workspace's, deduplicated
    there; a postback of no known app is kept (and deduplicated) in the workspace ''."""
    ours = await skan_app(client, key)
    body = skan4(ours["platforms"]["ios"]["app_store_id"])
    stray = skan4(str(900_000_000 + uuid.uuid4().int % 99_999_999))
    first, unmatched = await _post(client, body), await _post(client, stray)
    assert (await _post(client, stray))["status"] == "duplicate"
    async with app.state.sessions(write=False) as session:
        rows = await session.execute(
            select(SkanPostbackRow.id, SkanPostbackRow.workspace_id, SkanPostbackRow.app_id).where(
                SkanPostbackRow.id.in_([first["id"], unmatched["id"]])
            )
        )
        assert set(rows) == {
            (first["id"], key.workspace_id, ours["id"]),
            (unmatched["id"], "", None),
        }


async def test_rate_limited_per_ip(settings: Settings) -> None:
    async with running(settings, skan_postback_rate_limit_per_minute=2) as (_, http):
        codes = [(await http.post(URL, json=skan4("1"))).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


async def test_decoded_with_the_schema_in_force_at_install(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    """Version 1 meant 20 = revenue 1000-5000; version 2 (a week later) makes 20 a signup.
    A window-1 postback today (install about three days ago) decodes with version 2; a
    window-3 one (install over five weeks ago) with version 1."""
    mine = await skan_app(client, key)
    assert (await put_schema(client, key, mine["id"])).status_code == 200
    changed = copy.deepcopy(SCHEMA)
    changed["fine"][1]["value"], changed["fine"][3]["value"] = 20, 1
    assert (await put_schema(client, key, mine["id"], changed)).json()["version"] == 2
    now = datetime.now(UTC)
    async with app.state.sessions.transaction() as session:
        for version, age in ((1, 60), (2, 10)):
            await session.execute(
                update(SkanSchemaRow)
                .where(SkanSchemaRow.app_id == mine["id"], SkanSchemaRow.version == version)
                .values(created_at=now - timedelta(days=age))
            )
    store_id = mine["platforms"]["ios"]["app_store_id"]
    fresh = skan4(store_id, **{"conversion-value": 20})
    late = skan4(store_id, **{"postback-sequence-index": 2, "coarse-conversion-value": "high"})
    late.pop("conversion-value")
    for body in (fresh, late):
        assert (await _post(client, body))["verified"] is True
    async with app.state.sessions.transaction() as session:
        rows = {
            row.sequence_index: row
            for row in await session.scalars(
                select(SkanPostbackRow).where(SkanPostbackRow.app_id == mine["id"])
            )
        }
    assert rows[0].schema_version == 2
    assert rows[0].decoded["fine"]["range"]["event"] == "signup"
    assert rows[2].schema_version == 1
    assert rows[2].decoded["coarse"]["range"]["count"] == {"min": 2, "max": None}


async def test_apples_well_known_copy_paths(client: httpx.AsyncClient, key: Key) -> None:
    app = await skan_app(client, key)
    store_id = app["platforms"]["ios"]["app_store_id"]
    for path in (
        "/.well-known/skadnetwork/report-attribution/",
        "/.well-known/appattribution/report-attribution/",
    ):
        response = await client.post(path, json=skan4(store_id))
        assert response.status_code == 200, response.text
        assert response.json()["verified"] is True
    assert (await _skan_stats(client, key, app["id"]))["installs"] == 2
