"""Referrals over HTTP: attribution, refusals, duplicates, status transitions, search."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referkit.models import Referral as ReferralRow
from tests.factories import Key, create_member, create_program, create_referral, new_key

REFERRALS = "/api/v1/referrals"
UNKNOWN_MEMBER = "mem_01jd9x4k6b8v2q3r5s7t9w1y3z"


async def _refer(client: httpx.AsyncClient, key: Key, **body: Any) -> httpx.Response:
    return await client.post(REFERRALS, json=body, headers=key.headers)


async def _patch(
    client: httpx.AsyncClient, key: Key, referral_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(f"{REFERRALS}/{referral_id}", json=body, headers=key.headers)


def _friend() -> dict[str, str]:
    return {"email": f"friend-{uuid.uuid4().hex[:10]}@example.com"}


@pytest.fixture
async def program(client: httpx.AsyncClient, key: Key) -> dict[str, Any]:
    return await create_program(
        client, key, attribution={"model": "first_click", "window_days": 14}
    )


@pytest.fixture
async def member(client: httpx.AsyncClient, key: Key, program: dict[str, Any]) -> dict[str, Any]:
    return await create_member(
        client,
        key,
        program["id"],
        email="Jane.Doe@gmail.com",
        external_id="jane-1",
        name="Jane",
        referral_code=f"JANE{uuid.uuid4().hex[:8].upper()}",
    )


# --- create ------------------------------------------------------------------------------------


async def test_create_by_referral_code(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any], member: dict[str, Any]
) -> None:
    response = await _refer(
        client,
        key,
        referral_code=member["referral_code"].lower(),  # codes are case-insensitive
        referee={"email": "Sam@Example.com", "external_id": "cust-1", "name": "Sam"},
        ip="203.0.113.9",
        user_agent="Mozilla/5.0",
    )
    assert response.status_code == 201, response.text
    referral = response.json()
    assert referral["id"].startswith("ref_")
    assert referral["program_id"] == program["id"]
    assert referral["member_id"] == member["id"]
    assert referral["referee"] == {
        "email": "Sam@example.com",
        "external_id": "cust-1",
        "name": "Sam",
    }
    assert referral["status"] == "pending"
    attribution = referral["attribution"]
    assert attribution["method"] == "code"
    assert attribution["model"] == "first_click"
    assert attribution["window_days"] == 14
    assert attribution["click_id"] is None
    assert member["id"] in attribution["explanation"]
    assert member["referral_code"] in attribution["explanation"]
    assert referral["fraud"] == {"risk": "low", "signals": []}
    assert referral["qualified_at"] is None
    assert referral["approved_at"] is None
    assert referral["denied_at"] is None
    assert [step["status"] for step in referral["status_history"]] == ["pending"]
    assert referral["livemode"] is True

    fetched = await client.get(f"{REFERRALS}/{referral['id']}", headers=key.headers)
    assert fetched.status_code == 200
    assert fetched.json() == referral


async def test_create_by_member_id(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any], member: dict[str, Any]
) -> None:
    response = await _refer(
        client, key, member_id=member["id"], program_id=program["id"], referee=_friend()
    )
    assert response.status_code == 201, response.text
    referral = response.json()
    assert referral["member_id"] == member["id"]
    assert referral["attribution"]["method"] == "member_id"
    assert member["id"] in referral["attribution"]["explanation"]
    assert (referral["attribution"]["model"], referral["attribution"]["window_days"]) == (
        "first_click",
        14,
    )


async def test_attribution_settings_come_from_the_program(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    referral = await create_referral(client, key, member["referral_code"])
    assert (referral["attribution"]["model"], referral["attribution"]["window_days"]) == (
        "last_click",
        30,
    )
    await client.patch(
        f"/api/v1/programs/{program['id']}",
        json={"attribution": {"window_days": 3}},
        headers=key.headers,
    )
    later = await create_referral(client, key, member["referral_code"])
    assert later["attribution"]["window_days"] == 3


async def test_unknown_referrer_is_rejected(
    client: httpx.AsyncClient, key: Key, app: FastAPI, member: dict[str, Any]
) -> None:
    unknown_code = await _refer(client, key, referral_code="NOSUCHCODE", referee=_friend())
    assert unknown_code.status_code == 422
    assert unknown_code.json()["code"] == "unknown_referral_code"
    assert [e["field"] for e in unknown_code.json()["errors"]] == ["referral_code"]

    # A code from another workspace is unknown here.
    other_key = await new_key(app)
    elsewhere = await _refer(
        client, other_key, referral_code=member["referral_code"], referee=_friend()
    )
    assert elsewhere.status_code == 422
    assert elsewhere.json()["code"] == "unknown_referral_code"

    for member_id in (UNKNOWN_MEMBER, "junk"):
        unknown_member = await _refer(client, key, member_id=member_id, referee=_friend())
        assert unknown_member.status_code == 422
        assert [e["field"] for e in unknown_member.json()["errors"]] == ["member_id"]

    click = await _refer(client, key, click_id="clk_01jd9x4k6b8v2q3r5s7t9w1y3z", referee=_friend())
    assert click.status_code == 422
    assert click.json()["code"] == "unknown_click"
    # A click id is checked before a code that would otherwise succeed.
    both = await _refer(
        client,
        key,
        click_id="clk_01jd9x4k6b8v2q3r5s7t9w1y3z",
        referral_code=member["referral_code"],
        referee=_friend(),
    )
    assert both.json()["code"] == "unknown_click"
    listed = await client.get(REFERRALS, headers=key.headers)
    assert listed.json()["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"referee": {"email": "f@example.com"}},
        {"referral_code": "X", "referee": {}},
        {"referral_code": "X", "referee": {"name": "Only a name"}},
        {"referral_code": "X"},
        {"referral_code": "X", "referee": {"email": "not-an-email"}},
        {"referral_code": "X", "referee": {"email": "f@example.com"}, "status": "approved"},
    ],
)
async def test_invalid_body_is_rejected(
    client: httpx.AsyncClient, key: Key, body: dict[str, Any]
) -> None:
    response = await client.post(REFERRALS, json=body, headers=key.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_program_id_must_match_the_referrer(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any]
) -> None:
    other = await create_program(client, key)
    for program_id in (other["id"], "prog_01jd9x4k6b8v2q3r5s7t9w1y3z"):
        response = await _refer(
            client,
            key,
            program_id=program_id,
            referral_code=member["referral_code"],
            referee=_friend(),
        )
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["program_id"]
    ok = await _refer(
        client,
        key,
        program_id=member["program_id"],
        referral_code=member["referral_code"],
        referee=_friend(),
    )
    assert ok.status_code == 201


@pytest.mark.parametrize("status", ["paused", "archived"])
async def test_inactive_program_refuses_referrals(
    client: httpx.AsyncClient,
    key: Key,
    program: dict[str, Any],
    member: dict[str, Any],
    status: str,
) -> None:
    await client.patch(
        f"/api/v1/programs/{program['id']}", json={"status": status}, headers=key.headers
    )
    response = await _refer(client, key, referral_code=member["referral_code"], referee=_friend())
    assert response.status_code == 422
    assert response.json()["code"] == "program_inactive"
    await client.patch(
        f"/api/v1/programs/{program['id']}", json={"status": "active"}, headers=key.headers
    )
    await create_referral(client, key, member["referral_code"])


async def test_disabled_member_refuses_referrals(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any]
) -> None:
    await client.patch(
        f"/api/v1/members/{member['id']}", json={"status": "disabled"}, headers=key.headers
    )
    for referrer in ({"referral_code": member["referral_code"]}, {"member_id": member["id"]}):
        response = await _refer(client, key, **referrer, referee=_friend())
        assert response.status_code == 422
        assert response.json()["code"] == "member_disabled"


@pytest.mark.parametrize(
    "referee",
    [
        {"email": "Jane.Doe@gmail.com"},  # the same address
        {"email": "JANE.DOE@GMAIL.COM"},  # letter case
        {"email": "jane.doe+promo@gmail.com"},  # a +tag
        {"email": "janedoe@gmail.com"},  # Gmail ignores dots
        {"email": "j.a.n.e.d.o.e+x@googlemail.com"},  # ... and googlemail is gmail
        {"external_id": "jane-1"},  # the same user id
        {"email": "someone-else@example.com", "external_id": "jane-1"},
    ],
)
async def test_self_referral_is_refused(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any], referee: dict[str, str]
) -> None:
    response = await _refer(client, key, referral_code=member["referral_code"], referee=referee)
    assert response.status_code == 422
    assert response.json()["code"] == "self_referral"
    by_id = await _refer(client, key, member_id=member["id"], referee=referee)
    assert by_id.json()["code"] == "self_referral"


async def test_lookalikes_that_are_other_people_are_not_self_referrals(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    member = await create_member(
        client, key, program["id"], email="sam.lee@example.com", external_id="sam"
    )
    for referee in (
        {"email": "samlee@example.com"},  # dots matter outside Gmail
        {"email": "sam.lee@example.org"},
        {"external_id": "SAM"},  # external ids are exact
    ):
        response = await _refer(client, key, referral_code=member["referral_code"], referee=referee)
        assert response.status_code == 201, referee
    tagged = await _refer(
        client,
        key,
        referral_code=member["referral_code"],
        referee={"email": "sam.lee+1@example.com"},
    )
    assert tagged.json()["code"] == "self_referral"


async def test_self_referral_allowed_when_the_program_allows_it(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any], member: dict[str, Any]
) -> None:
    patched = await client.patch(
        f"/api/v1/programs/{program['id']}",
        json={"fraud": {"self_referral": False}},
        headers=key.headers,
    )
    assert patched.json()["fraud"]["self_referral"] is False
    response = await _refer(
        client,
        key,
        referral_code=member["referral_code"],
        referee={"email": "jane.doe+me@gmail.com", "external_id": "jane-1"},
    )
    assert response.status_code == 201, response.text


async def test_duplicate_referee_in_a_program_is_a_conflict(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any], member: dict[str, Any]
) -> None:
    first = await create_referral(
        client, key, member["referral_code"], email="Friend@Example.com", external_id="cust-9"
    )
    second_member = await create_member(client, key, program["id"])
    for referrer in (
        {"referral_code": member["referral_code"]},
        {"referral_code": second_member["referral_code"]},
        {"member_id": second_member["id"]},
    ):
        for referee in (
            {"email": "friend@example.com"},
            {"email": "FRIEND@EXAMPLE.COM", "external_id": "new-id"},
            {"external_id": "cust-9"},
            {"email": "new@example.com", "external_id": "cust-9"},
        ):
            response = await _refer(client, key, **referrer, referee=referee)
            assert response.status_code == 409, (referrer, referee)
            assert response.json()["code"] == "conflict"
            assert response.json()["existing_id"] == first["id"]
    listed = await client.get(REFERRALS, params={"program_id": program["id"]}, headers=key.headers)
    assert [r["id"] for r in listed.json()["data"]] == [first["id"]]

    # A tagged address is a different referee (only self-referral folds +tags).
    tagged = await _refer(
        client,
        key,
        referral_code=member["referral_code"],
        referee={"email": "friend+2@example.com"},
    )
    assert tagged.status_code == 201


async def test_same_referee_in_another_program_is_fine(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any]
) -> None:
    referee = {"email": "both@example.com", "external_id": "both"}
    first = await create_referral(client, key, member["referral_code"], **referee)
    other_program = await create_program(client, key)
    other_member = await create_member(client, key, other_program["id"])
    second = await create_referral(client, key, other_member["referral_code"], **referee)
    assert first["id"] != second["id"]
    assert second["program_id"] == other_program["id"]


# --- status transitions ------------------------------------------------------------------------

# How to bring a fresh (pending) referral into each status.
PATHS = {
    "pending": [],
    "qualified": ["qualified"],
    "approved": ["qualified", "approved"],
    "denied": ["denied"],
}
EDGES = [
    ("pending", "qualified"),
    ("pending", "denied"),
    ("qualified", "approved"),
    ("qualified", "denied"),
    ("denied", "pending"),
]


async def _referral_in(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any], status: str
) -> dict[str, Any]:
    referral = await create_referral(client, key, member["referral_code"], **_friend())
    for step in PATHS[status]:
        response = await _patch(client, key, referral["id"], {"status": step})
        assert response.status_code == 200, response.text
        referral = response.json()
    assert referral["status"] == status
    return referral


@pytest.mark.parametrize(("source", "target"), EDGES)
async def test_every_allowed_transition(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any], source: str, target: str
) -> None:
    referral = await _referral_in(client, key, member, source)
    response = await _patch(client, key, referral["id"], {"status": target})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["status"] == target
    history = [step["status"] for step in updated["status_history"]]
    assert history == ["pending", *PATHS[source], target]
    assert updated["updated_at"] > referral["updated_at"]
    if target == "qualified":
        assert updated["qualified_at"] is not None
    if target == "approved":
        assert updated["approved_at"] is not None
    if target == "denied":
        assert updated["denied_at"] is not None
    if target == "pending":
        assert updated["denied_at"] is None
    fetched = await client.get(f"{REFERRALS}/{referral['id']}", headers=key.headers)
    assert fetched.json() == updated


async def test_pending_to_approved_passes_through_qualified(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any]
) -> None:
    referral = await _referral_in(client, key, member, "pending")
    response = await _patch(client, key, referral["id"], {"status": "approved", "note": "ok"})
    assert response.status_code == 200
    approved = response.json()
    assert approved["status"] == "approved"
    assert approved["qualified_at"] is not None
    assert approved["approved_at"] is not None
    assert approved["qualified_at"] <= approved["approved_at"]
    assert [(s["status"], s["note"]) for s in approved["status_history"]] == [
        ("pending", None),
        ("qualified", "ok"),
        ("approved", "ok"),
    ]


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("approved", "pending", []),
        ("approved", "qualified", []),
        ("approved", "denied", []),
        ("qualified", "pending", ["approved", "denied"]),
        ("denied", "qualified", ["pending"]),
        ("denied", "approved", ["pending"]),
    ],
)
async def test_illegal_transition_is_a_409(
    client: httpx.AsyncClient,
    key: Key,
    member: dict[str, Any],
    source: str,
    target: str,
    allowed: list[str],
) -> None:
    referral = await _referral_in(client, key, member, source)
    response = await _patch(client, key, referral["id"], {"status": target, "note": "nope"})
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "invalid_transition"
    assert problem["allowed"] == allowed
    assert (problem["current_status"], problem["requested_status"]) == (source, target)
    fetched = await client.get(f"{REFERRALS}/{referral['id']}", headers=key.headers)
    assert fetched.json() == referral  # nothing changed, not even the note


async def test_refusal_reads_as_english(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any]
) -> None:
    approved = await _referral_in(client, key, member, "approved")
    response = await _patch(client, key, approved["id"], {"status": "pending"})
    assert response.json()["detail"].startswith("An approved referral cannot become pending;")
    denied = await _referral_in(client, key, member, "denied")
    response = await _patch(client, key, denied["id"], {"status": "approved"})
    assert response.json()["detail"].startswith("A denied referral cannot become approved;")


@pytest.mark.parametrize("status", ["pending", "qualified", "approved", "denied"])
async def test_same_status_is_a_no_op(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any], status: str
) -> None:
    referral = await _referral_in(client, key, member, status)
    response = await _patch(client, key, referral["id"], {"status": status})
    assert response.status_code == 200
    same = response.json()
    assert same["status"] == status
    assert same["status_history"] == referral["status_history"]
    for stamp in ("qualified_at", "approved_at", "denied_at"):
        assert same[stamp] == referral[stamp]


async def test_note_update(client: httpx.AsyncClient, key: Key, member: dict[str, Any]) -> None:
    referral = await _referral_in(client, key, member, "qualified")
    noted = await _patch(client, key, referral["id"], {"note": "  checked by Ann  "})
    assert noted.status_code == 200
    assert noted.json()["note"] == "checked by Ann"
    assert noted.json()["status"] == "qualified"
    assert noted.json()["status_history"] == referral["status_history"]
    untouched = await _patch(client, key, referral["id"], {"status": "approved"})
    assert untouched.json()["note"] == "checked by Ann"
    cleared = await _patch(client, key, referral["id"], {"note": None})
    assert cleared.json()["note"] is None
    # Notes can change on a final referral too.
    final = await _patch(client, key, referral["id"], {"note": "paid"})
    assert (final.status_code, final.json()["note"]) == (200, "paid")


@pytest.mark.parametrize(
    "body", [{"status": "paid"}, {"status": None, "note": "x" * 2001}, {"member_id": "x"}]
)
async def test_invalid_patch_is_rejected(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any], body: dict[str, Any]
) -> None:
    referral = await _referral_in(client, key, member, "pending")
    response = await _patch(client, key, referral["id"], body)
    assert response.status_code == 422


async def test_unknown_referral_is_404(client: httpx.AsyncClient, key: Key, app: FastAPI) -> None:
    other_key = await new_key(app)
    other_program = await create_program(client, other_key)
    other_member = await create_member(client, other_key, other_program["id"])
    theirs = await create_referral(client, other_key, other_member["referral_code"])
    for referral_id in ("ref_01jd9x4k6b8v2q3r5s7t9w1y3z", "junk", theirs["id"]):
        assert (
            await client.get(f"{REFERRALS}/{referral_id}", headers=key.headers)
        ).status_code == (404)
        patched = await _patch(client, key, referral_id, {"status": "denied"})
        assert patched.status_code == 404


# --- search ------------------------------------------------------------------------------------


def _shifted(timestamp: str, hours: float) -> str:
    """The same instant written with another UTC offset (ISO 8601)."""
    instant = datetime.fromisoformat(timestamp)
    return instant.astimezone(timezone(timedelta(hours=hours))).isoformat()


async def test_search_filters(client: httpx.AsyncClient, key: Key, app: FastAPI) -> None:
    program_a = await create_program(client, key)
    program_b = await create_program(client, key)
    m1 = await create_member(client, key, program_a["id"])
    m2 = await create_member(client, key, program_a["id"])
    m3 = await create_member(client, key, program_b["id"])
    r1 = await create_referral(client, key, m1["referral_code"], email="alice@x.io", name="Al")
    r2 = await create_referral(client, key, m1["referral_code"], external_id="cust-77", name="Bob")
    r3 = await create_referral(client, key, m2["referral_code"], email="carol@y.io")
    r4 = await create_referral(client, key, m3["referral_code"], email="alice@z.io")
    await _patch(client, key, r2["id"], {"status": "qualified"})
    await _patch(client, key, r3["id"], {"status": "denied"})
    other_key = await new_key(app)  # another workspace's referral is never found
    other_program = await create_program(client, other_key)
    other_member = await create_member(client, other_key, other_program["id"])
    await create_referral(client, other_key, other_member["referral_code"], email="alice@x.io")

    async def ids(**params: Any) -> list[str]:
        response = await client.get(REFERRALS, params=params, headers=key.headers)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["data"]]

    everything = [r4["id"], r3["id"], r2["id"], r1["id"]]
    assert await ids() == everything
    assert await ids(program_id=program_a["id"]) == [r3["id"], r2["id"], r1["id"]]
    assert await ids(program_id=program_b["id"]) == [r4["id"]]
    assert await ids(program_id=other_program["id"]) == []
    assert await ids(member_id=m1["id"]) == [r2["id"], r1["id"]]
    assert await ids(member_id=m3["id"]) == [r4["id"]]
    assert await ids(status="pending") == [r4["id"], r1["id"]]
    assert await ids(status="qualified") == [r2["id"]]
    assert await ids(status="denied") == [r3["id"]]
    assert await ids(status="approved") == []
    assert await ids(q="ALICE") == [r4["id"], r1["id"]]
    assert await ids(q="ust-7") == [r2["id"]]
    assert await ids(q="bob") == [r2["id"]]
    assert await ids(q="%") == []
    assert await ids(q="_") == []

    # created_after is inclusive, created_before exclusive; any offset names the same instant.
    assert await ids(created_after=r2["created_at"]) == [r4["id"], r3["id"], r2["id"]]
    assert await ids(created_after=_shifted(r2["created_at"], 5.5)) == [
        r4["id"],
        r3["id"],
        r2["id"],
    ]
    assert await ids(created_after=_shifted(r2["created_at"], -8)) == [r4["id"], r3["id"], r2["id"]]
    assert await ids(created_before=r2["created_at"]) == [r1["id"]]
    assert await ids(created_before=_shifted(r2["created_at"], 2)) == [r1["id"]]
    assert await ids(created_before=_shifted(r3["created_at"], -3)) == [r2["id"], r1["id"]]
    assert await ids(created_after=r1["created_at"], created_before=r4["created_at"]) == [
        r3["id"],
        r2["id"],
        r1["id"],
    ]
    assert await ids(created_after=r4["created_at"], created_before=r1["created_at"]) == []
    assert await ids(created_after="2000-01-01T00:00:00+00:00") == everything
    assert await ids(created_before="2000-01-01T00:00:00+00:00") == []

    # Combinations narrow each other.
    assert await ids(program_id=program_a["id"], q="alice") == [r1["id"]]
    assert await ids(member_id=m1["id"], status="pending") == [r1["id"]]
    assert await ids(status="pending", q="alice") == [r4["id"], r1["id"]]
    assert await ids(program_id=program_a["id"], status="pending", q="alice") == [r1["id"]]
    assert await ids(program_id=program_b["id"], member_id=m1["id"]) == []
    assert await ids(
        program_id=program_a["id"],
        created_after=_shifted(r2["created_at"], 1),
        created_before=_shifted(r4["created_at"], -1),
    ) == [r3["id"], r2["id"]]
    assert await ids(
        member_id=m1["id"], status="qualified", q="cust", created_before=r3["created_at"]
    ) == [r2["id"]]

    counted = await client.get(
        REFERRALS, params={"program_id": program_a["id"], "offset": 0}, headers=key.headers
    )
    assert counted.json()["meta"]["total"] == 3
    for bad in (
        {"status": "paid"},
        {"created_after": "yesterday"},
        {"created_before": "2024-13-01"},
    ):
        assert (await client.get(REFERRALS, params=bad, headers=key.headers)).status_code == 422


async def test_a_members_referrals_page_by_cursor(
    client: httpx.AsyncClient, key: Key, app: FastAPI
) -> None:
    """The member filter alone (what a referrer dashboard asks) pages newest first by cursor,
    within the member, the workspace and the key's mode."""
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    neighbour = await create_member(client, key, program["id"])
    made = [
        await create_referral(client, key, member["referral_code"], email=f"p{n}@x.io")
        for n in range(3)
    ]
    await create_referral(client, key, neighbour["referral_code"], email="other@x.io")
    other_key = await new_key(app)

    async def page(**params: Any) -> dict[str, Any]:
        response = await client.get(
            REFERRALS, params={"member_id": member["id"], **params}, headers=key.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    first = await page(limit=2)
    assert [r["id"] for r in first["data"]] == [made[2]["id"], made[1]["id"]]
    assert first["meta"]["hasMore"] is True
    second = await page(limit=2, cursor=first["meta"]["cursor"])
    assert [r["id"] for r in second["data"]] == [made[0]["id"]]
    assert second["meta"]["hasMore"] is False
    assert second["meta"]["cursor"] is None
    foreign = await client.get(
        REFERRALS, params={"member_id": member["id"]}, headers=other_key.headers
    )
    assert foreign.status_code == 200, foreign.text
    assert foreign.json()["data"] == []


async def test_a_listed_referral_reads_as_the_referral_itself(
    client: httpx.AsyncClient, key: Key, app: FastAPI
) -> None:
    """A list reads its referrals' columns and JSON its own way; each one answers exactly what
    ``GET /referrals/{id}`` answers, whichever filters and paging, and whatever JSON is stored
    (keys no model has, escapes, numbers)."""
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    referral = await create_referral(client, key, member["referral_code"], email="a@x.io")
    assert (await _patch(client, key, referral["id"], {"status": "qualified"})).status_code == 200
    async with app.state.sessions.transaction() as session:
        row = await session.get(ReferralRow, (key.workspace_id, referral["id"]))
        assert row is not None
        row.fraud = {
            "risk": "high",
            "signals": [{"code": "same_ip", "detail": 'é "q" \u2028', "evidence": {"n": 1.5}}],
            "extra": True,
        }
    single = await client.get(f"{REFERRALS}/{referral['id']}", headers=key.headers)
    assert single.status_code == 200, single.text
    for params in (
        {"member_id": member["id"]},
        {"member_id": member["id"], "limit": 1},
        {"member_id": member["id"], "status": "qualified"},
        {"program_id": program["id"], "offset": 0},
    ):
        listed = await client.get(REFERRALS, params=params, headers=key.headers)
        assert listed.status_code == 200, listed.text
        assert listed.text.startswith('{"data":[' + single.text + "]"), params
