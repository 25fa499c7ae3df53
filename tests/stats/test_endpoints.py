"""Stats over HTTP: program series by day/week/month, ranges, leaderboard periods, referral
status changes reflected at once, scopes and tenancy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Mode, Scope
from referkit.kit.time import utcnow
from tests.factories import Key, create_member, create_program, create_referral, new_key

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"


async def _stats(client: httpx.AsyncClient, key: Key, program_id: str, **params: Any) -> Any:
    response = await client.get(
        f"/api/v1/programs/{program_id}/stats", params=params, headers=key.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_series_by_interval(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    await create_referral(client, key, member["referral_code"])
    for day in ("2024-01-30", "2024-02-02"):
        response = await client.post(
            "/api/v1/events",
            json={
                "event_id": f"install-{day}",
                "type": "install",
                "program_id": program["id"],
                "occurred_at": f"{day}T12:00:00Z",
            },
            headers=key.headers,
        )
        assert response.status_code == 201
    window = {"from": "2024-01-29", "to": "2024-02-04"}
    days = await _stats(client, key, program["id"], **window)
    assert [p["installs"] for p in days["series"]] == [0, 1, 0, 0, 1, 0, 0]
    assert days["totals"]["installs"] == 2
    assert days["totals"]["referrals"] == 0  # today's referral is outside the window
    weeks = await _stats(client, key, program["id"], interval="week", **window)
    assert [(p["start"], p["installs"]) for p in weeks["series"]] == [("2024-01-29", 2)]
    months = await _stats(client, key, program["id"], interval="month", **window)
    assert [(p["start"], p["installs"]) for p in months["series"]] == [
        ("2024-01-01", 1),
        ("2024-02-01", 1),
    ]
    today = await _stats(client, key, program["id"])
    assert today["totals"]["referrals"] == 1
    assert today["to"] == utcnow().date().isoformat()


@pytest.mark.parametrize(
    "params",
    [{"from": "2024-02-01", "to": "2024-01-01"}, {"from": "2000-01-01", "to": "2024-01-01"}],
)
async def test_bad_ranges(client: httpx.AsyncClient, key: Key, params: dict[str, str]) -> None:
    program = await create_program(client, key)
    response = await client.get(
        f"/api/v1/programs/{program['id']}/stats", params=params, headers=key.headers
    )
    assert response.status_code == 422


async def test_status_changes_show_at_once_and_leaderboard(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    star = await create_member(client, key, program["id"], email="star@example.com")
    other = await create_member(client, key, program["id"], email="other@example.com")
    idle = await create_member(client, key, program["id"], email="idle@example.com")
    referrals = [await create_referral(client, key, star["referral_code"]) for _ in range(2)]
    await create_referral(client, key, other["referral_code"])
    await create_referral(client, key, other["referral_code"])
    await create_referral(client, key, other["referral_code"])
    for referral in referrals:
        await client.patch(
            f"/api/v1/referrals/{referral['id']}",
            json={"status": "qualified"},
            headers=key.headers,
        )
    await client.patch(
        f"/api/v1/referrals/{referrals[1]['id']}", json={"status": "denied"}, headers=key.headers
    )
    stats = (await client.get(f"/api/v1/members/{star['id']}/stats", headers=key.headers)).json()
    assert (stats["referrals"], stats["qualified_referrals"]) == (2, 1)

    board = await client.get(f"/api/v1/programs/{program['id']}/leaderboard", headers=key.headers)
    entries = board.json()["data"]
    assert [(e["member_id"], e["rank"]) for e in entries] == [(star["id"], 1), (other["id"], 2)]
    assert idle["id"] not in {e["member_id"] for e in entries}
    this_month = await client.get(
        f"/api/v1/programs/{program['id']}/leaderboard",
        params={"period": "month"},
        headers=key.headers,
    )
    assert len(this_month.json()["data"]) == 2
    previous = await client.get(
        f"/api/v1/programs/{program['id']}/leaderboard",
        params={"period": "prev_month"},
        headers=key.headers,
    )
    assert previous.json()["data"] == []
    assert previous.json()["to"] == (utcnow().date().replace(day=1) - timedelta(days=1)).isoformat()


async def test_member_stats_range_and_click_reach(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    await client.get(f"/r/{member['referral_code']}", headers={"user-agent": BROWSER})
    url = f"/api/v1/members/{member['id']}/stats"
    today = utcnow().date()
    now = (await client.get(url, params={"from": today.isoformat()}, headers=key.headers)).json()
    assert (now["clicks"], now["reach"]) == (1, 1)
    earlier = await client.get(
        url, params={"to": (today - timedelta(days=1)).isoformat()}, headers=key.headers
    )
    assert (earlier.json()["clicks"], earlier.json()["reach"]) == (0, 0)


async def test_scopes_and_tenancy(app: FastAPI, client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    paths = [
        f"/api/v1/members/{member['id']}/stats",
        f"/api/v1/programs/{program['id']}/stats",
        f"/api/v1/programs/{program['id']}/leaderboard",
    ]
    workspace = (await client.get("/api/v1/workspace", headers=key.headers)).json()["name"]
    analytics = await new_key(app, scope=Scope.analytics, workspace=workspace)
    test_mode = await new_key(app, workspace=workspace, mode=Mode.test)
    stranger = await new_key(app)
    for path in paths:
        assert (await client.get(path, headers=analytics.headers)).status_code == 200
        assert (await client.get(path, headers=test_mode.headers)).status_code == 404
        assert (await client.get(path, headers=stranger.headers)).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"to": "0001-01-01"},
        {"to": "0001-01-15", "interval": "week"},
        {"from": "9999-12-01", "to": "9999-12-31"},
        {"from": "9999-11-01", "to": "9999-12-31", "interval": "week"},
        {"from": "9999-06-01", "to": "9999-12-31", "interval": "month"},
    ],
)
async def test_ranges_at_the_calendars_ends_are_answered(
    client: httpx.AsyncClient, key: Key, params: dict[str, str]
) -> None:
    """The default 30 days before the first days of the calendar stop at its first day; the
    series' last bucket is the calendar's last (no day, week or month after it is counted)."""
    program = await create_program(client, key)
    paths = [(f"/api/v1/programs/{program['id']}/stats", params)]
    if "interval" not in params:
        paths.append((f"/api/v1/programs/{program['id']}/breakdown", {**params, "group_by": "os"}))
    for path, query in paths:
        response = await client.get(path, params=query, headers=key.headers)
        assert response.status_code == 200, (path, params, response.text)
        if path.endswith("/stats") and "from" not in params:
            assert response.json()["from"] == "0001-01-01"
