"""Members over HTTP: create-or-fetch, referral codes, list filters, update, erase."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import Key, create_member, create_program, create_referral, new_key

SAFE = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L look-alikes


def _members(program_id: str) -> str:
    return f"/api/v1/programs/{program_id}/members"


async def _post(
    client: httpx.AsyncClient, key: Key, program_id: str, **body: Any
) -> httpx.Response:
    return await client.post(_members(program_id), json=body, headers=key.headers)


async def _patch(
    client: httpx.AsyncClient, key: Key, member_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(f"/api/v1/members/{member_id}", json=body, headers=key.headers)


async def _ids(client: httpx.AsyncClient, key: Key, program_id: str, **params: Any) -> list[str]:
    response = await client.get(_members(program_id), params=params, headers=key.headers)
    assert response.status_code == 200, response.text
    return [member["id"] for member in response.json()["data"]]


def _unique_code(prefix: str = "C") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}".upper()


@pytest.fixture
async def program(client: httpx.AsyncClient, key: Key) -> dict[str, Any]:
    return await create_program(client, key)


# --- create or fetch ---------------------------------------------------------------------------


async def test_create_then_fetch_by_email_is_case_insensitive(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    first = await _post(
        client, key, program["id"], email="Jane@Example.com", name="Jane", metadata={"plan": "pro"}
    )
    assert first.status_code == 201, first.text
    member = first.json()
    assert member["id"].startswith("mem_")
    assert member["program_id"] == program["id"]
    assert member["email"] == "Jane@example.com"  # the domain is normalized, the local part kept
    assert member["external_id"] is None
    assert member["name"] == "Jane"
    assert member["status"] == "active"
    assert member["metadata"] == {"plan": "pro"}
    assert member["livemode"] is True

    for email in ("jane@example.com", "JANE@EXAMPLE.COM", "  jane@example.com  "):
        again = await _post(client, key, program["id"], email=email, name="Someone else")
        assert again.status_code == 200, email
        assert again.json() == member  # returned as is: nothing is overwritten

    fetched = await client.get(f"/api/v1/members/{member['id']}", headers=key.headers)
    assert fetched.status_code == 200
    assert fetched.json() == member


async def test_create_then_fetch_by_external_id(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    first = await _post(client, key, program["id"], external_id="user_42")
    assert first.status_code == 201
    again = await _post(client, key, program["id"], external_id="user_42")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # External ids are exact: another case is another user.
    other = await _post(client, key, program["id"], external_id="USER_42")
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]


async def test_email_then_external_id_links_the_external_id(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    created = await create_member(client, key, program["id"], email="sam@example.com")
    linked = await _post(client, key, program["id"], email="SAM@example.com", external_id="u-7")
    assert linked.status_code == 200
    assert linked.json()["id"] == created["id"]
    assert linked.json()["external_id"] == "u-7"
    by_external = await _post(client, key, program["id"], external_id="u-7")
    assert by_external.status_code == 200
    assert by_external.json()["id"] == created["id"]
    fetched = await client.get(f"/api/v1/members/{created['id']}", headers=key.headers)
    assert fetched.json()["external_id"] == "u-7"


async def test_email_of_a_member_with_another_external_id_is_a_conflict(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    owner = await create_member(
        client, key, program["id"], email="kim@example.com", external_id="a"
    )
    response = await _post(client, key, program["id"], email="kim@example.com", external_id="b")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert response.json()["existing_id"] == owner["id"]
    assert await _ids(client, key, program["id"]) == [owner["id"]]


async def test_external_id_of_one_member_and_email_of_another_is_a_conflict(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    x = await create_member(client, key, program["id"], external_id="x-1")
    y = await create_member(client, key, program["id"], email="y@example.com")
    response = await _post(client, key, program["id"], external_id="x-1", email="y@example.com")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    assert response.json()["existing_id"] == y["id"]
    for member in (x, y):  # neither was changed
        fetched = await client.get(f"/api/v1/members/{member['id']}", headers=key.headers)
        assert fetched.json() == member

    # When the email is nobody's (or the same member's), the external id wins as before.
    free = await _post(client, key, program["id"], external_id="x-1", email="free@example.com")
    assert free.status_code == 200
    assert free.json()["id"] == x["id"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "No identifiers"},
        {"email": None, "external_id": None},
        {"email": "not-an-email"},
        {"external_id": ""},
        {"external_id": "x" * 201},
        {"email": "a@example.com", "metadata": {f"k{i}": i for i in range(51)}},
        {"email": "a@example.com", "id": "mem_mine"},
    ],
)
async def test_invalid_create_is_rejected(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any], body: dict[str, Any]
) -> None:
    response = await _post(client, key, program["id"], **body)
    assert response.status_code == 422, body
    assert response.json()["code"] == "validation_error"
    assert await _ids(client, key, program["id"]) == []


async def test_unknown_program_is_404(client: httpx.AsyncClient, key: Key, app: FastAPI) -> None:
    response = await _post(client, key, "prog_01jd9x4k6b8v2q3r5s7t9w1y3z", email="a@example.com")
    assert response.status_code == 404
    theirs = await create_program(client, await new_key(app))
    assert (await _post(client, key, theirs["id"], email="a@example.com")).status_code == 404
    listed = await client.get(_members(theirs["id"]), headers=key.headers)
    assert listed.status_code == 404


async def test_same_person_in_two_programs_is_two_members(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    other = await create_program(client, key)
    first = await _post(client, key, program["id"], email="pat@example.com", external_id="p")
    second = await _post(client, key, other["id"], email="pat@example.com", external_id="p")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert first.json()["referral_code"] != second.json()["referral_code"]


# --- referral codes ----------------------------------------------------------------------------


async def test_referral_link_points_at_the_code(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    member = await create_member(client, key, program["id"])
    assert member["referral_link"] == f"http://testserver/r/{member['referral_code']}"


@pytest.mark.parametrize(
    ("body", "stem"),
    [
        ({"email": "a1@example.com", "name": "Jane Doe"}, "JANE"),
        ({"email": "a2@example.com", "name": "Élodie Martin"}, "ELODIE"),
        ({"email": "a3@example.com", "name": "Christopher"}, "CHRIST"),
        ({"email": "bob.smith@example.com"}, "BOB"),
        ({"email": "42@example.com", "name": "123"}, ""),
        ({"external_id": "u-1"}, ""),
    ],
)
async def test_generated_codes_are_human_friendly(
    client: httpx.AsyncClient,
    key: Key,
    program: dict[str, Any],
    body: dict[str, Any],
    stem: str,
) -> None:
    response = await _post(client, key, program["id"], **body)
    assert response.status_code == 201
    code = response.json()["referral_code"]
    random_part = 4 if stem else 8
    assert re.fullmatch(f"{stem}[{SAFE}]{{{random_part}}}", code), code


async def test_generated_codes_differ(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    codes = {
        (await _post(client, key, program["id"], email=f"jo{i}@example.com", name="Jo")).json()[
            "referral_code"
        ]
        for i in range(20)
    }
    assert len(codes) == 20


async def test_custom_code_is_honoured(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    code = _unique_code("Jane_") + "-x"
    response = await _post(client, key, program["id"], email="j@example.com", referral_code=code)
    assert response.status_code == 201
    assert response.json()["referral_code"] == code
    assert response.json()["referral_link"] == f"http://testserver/r/{code}"


@pytest.mark.parametrize(
    "code", ["ab", "a" * 33, "has space", "-dash", "_under", "dot.ted", "ünï", "x/y", "A%B"]
)
async def test_invalid_custom_code_is_rejected(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any], code: str
) -> None:
    response = await _post(client, key, program["id"], email="j@example.com", referral_code=code)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["referral_code"]


async def test_taken_code_is_a_conflict_everywhere(
    client: httpx.AsyncClient, key: Key, app: FastAPI, program: dict[str, Any]
) -> None:
    code = _unique_code()
    await create_member(client, key, program["id"], email="a@example.com", referral_code=code)
    other_program = await create_program(client, key)
    other_key = await new_key(app)
    other_workspace_program = await create_program(client, other_key)

    for who, program_id, variant in (
        (key, program["id"], code),
        (key, program["id"], code.lower()),
        (key, other_program["id"], code.lower()),
        # /r/{code} carries no workspace, so codes are unique across workspaces too.
        (other_key, other_workspace_program["id"], code),
    ):
        response = await _post(
            client, who, program_id, email="b@example.com", referral_code=variant
        )
        assert response.status_code == 409, (program_id, variant)
        assert response.json()["code"] == "conflict"
    assert len(await _ids(client, key, program["id"])) == 1
    assert await _ids(client, other_key, other_workspace_program["id"]) == []


# --- list --------------------------------------------------------------------------------------


async def test_list_with_q(client: httpx.AsyncClient, key: Key, program: dict[str, Any]) -> None:
    code = _unique_code("ZED")
    by_email = await create_member(client, key, program["id"], email="alice@wonder.example")
    by_external = await create_member(client, key, program["id"], external_id="crm-4471")
    by_code = await create_member(client, key, program["id"], email="c@x.io", referral_code=code)
    by_name = await create_member(client, key, program["id"], email="d@x.io", name="Quentin Blake")

    assert await _ids(client, key, program["id"], q="WONDER") == [by_email["id"]]
    assert await _ids(client, key, program["id"], q="rm-447") == [by_external["id"]]
    assert await _ids(client, key, program["id"], q=code.lower()) == [by_code["id"]]
    assert await _ids(client, key, program["id"], q="quentin b") == [by_name["id"]]
    assert await _ids(client, key, program["id"], q="x.io") == [by_name["id"], by_code["id"]]
    assert await _ids(client, key, program["id"], q="nothing-like-this") == []
    everyone = await _ids(client, key, program["id"], q="")
    assert len(everyone) == 4


async def test_list_q_treats_wildcards_literally(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    percent = await create_member(client, key, program["id"], email="p@x.io", name="50% off")
    await create_member(client, key, program["id"], email="q@x.io", name="500 off")
    underscore = await create_member(client, key, program["id"], external_id="a_c")
    await create_member(client, key, program["id"], external_id="abc")
    backslash = await create_member(client, key, program["id"], external_id="a\\c")

    assert await _ids(client, key, program["id"], q="50%") == [percent["id"]]
    assert await _ids(client, key, program["id"], q="%") == [percent["id"]]
    assert await _ids(client, key, program["id"], q="a_c") == [underscore["id"]]
    assert await _ids(client, key, program["id"], q="_") == [underscore["id"]]
    assert await _ids(client, key, program["id"], q="a\\c") == [backslash["id"]]


async def test_list_filters(client: httpx.AsyncClient, key: Key, program: dict[str, Any]) -> None:
    jane = await create_member(client, key, program["id"], email="jane@example.com")
    janet = await create_member(client, key, program["id"], email="jane@example.com.au")
    ext = await create_member(client, key, program["id"], external_id="ext-1")
    await create_member(client, key, program["id"], external_id="ext-10")
    disabled = await create_member(client, key, program["id"], email="off@example.com")
    assert (await _patch(client, key, disabled["id"], {"status": "disabled"})).status_code == 200
    other_program = await create_program(client, key)
    await create_member(client, key, other_program["id"], email="jane@example.com")

    assert await _ids(client, key, program["id"], email="JANE@example.com") == [jane["id"]]
    assert await _ids(client, key, program["id"], external_id="ext-1") == [ext["id"]]
    assert await _ids(client, key, program["id"], external_id="EXT-1") == []
    assert await _ids(client, key, program["id"], status="disabled") == [disabled["id"]]
    active = await _ids(client, key, program["id"], status="active")
    assert disabled["id"] not in active
    assert len(active) == 4
    assert await _ids(client, key, program["id"], status="active", q="jane") == [
        janet["id"],
        jane["id"],
    ]
    assert await _ids(client, key, program["id"], status="disabled", q="jane") == []
    bad = await client.get(_members(program["id"]), params={"status": "x"}, headers=key.headers)
    assert bad.status_code == 422

    page = await client.get(
        _members(program["id"]), params={"offset": 0, "count": 2}, headers=key.headers
    )
    assert page.json()["meta"]["total"] == 5
    assert len(page.json()["data"]) == 2


# --- update ------------------------------------------------------------------------------------


async def test_patch_fields(client: httpx.AsyncClient, key: Key, program: dict[str, Any]) -> None:
    member = await create_member(
        client, key, program["id"], email="a@example.com", name="A", metadata={"x": 1, "y": 2}
    )
    code = _unique_code("NEW")
    response = await _patch(
        client,
        key,
        member["id"],
        {
            "email": "b@example.com",
            "external_id": "u-9",
            "name": "B",
            "referral_code": code,
            "metadata": {"z": 3},
        },
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["email"] == "b@example.com"
    assert updated["external_id"] == "u-9"
    assert updated["name"] == "B"
    assert updated["referral_code"] == code
    assert updated["referral_link"] == f"http://testserver/r/{code}"
    assert updated["metadata"] == {"z": 3}  # replaced, not merged
    assert updated["created_at"] == member["created_at"]
    assert updated["updated_at"] > member["updated_at"]
    assert (await client.get(f"/api/v1/members/{member['id']}", headers=key.headers)).json() == (
        updated
    )
    # The new identifiers find the member; the old email no longer does.
    assert (await _post(client, key, program["id"], email="B@example.com")).json()["id"] == (
        member["id"]
    )
    fresh = await _post(client, key, program["id"], email="a@example.com")
    assert fresh.status_code == 201

    same_code_other_case = await _patch(client, key, member["id"], {"referral_code": code.lower()})
    assert same_code_other_case.status_code == 200
    assert same_code_other_case.json()["referral_code"] == code.lower()


async def test_patch_status_disabled_and_back(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    member = await create_member(client, key, program["id"])
    disabled = await _patch(client, key, member["id"], {"status": "disabled"})
    assert disabled.json()["status"] == "disabled"
    refused = await client.post(
        "/api/v1/referrals",
        json={"referral_code": member["referral_code"], "referee": {"email": "f@example.com"}},
        headers=key.headers,
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "member_disabled"
    enabled = await _patch(client, key, member["id"], {"status": "active"})
    assert enabled.json()["status"] == "active"
    await create_referral(client, key, member["referral_code"])


async def test_patch_conflicts(
    client: httpx.AsyncClient, key: Key, app: FastAPI, program: dict[str, Any]
) -> None:
    taken_code = _unique_code("TAKEN")
    other = await create_member(
        client,
        key,
        program["id"],
        email="other@example.com",
        external_id="other",
        referral_code=taken_code,
    )
    member = await create_member(client, key, program["id"], email="me@example.com")
    foreign_code = _unique_code("FOREIGN")
    foreign_key = await new_key(app)
    foreign_program = await create_program(client, foreign_key)
    await create_member(
        client,
        foreign_key,
        foreign_program["id"],
        email="z@example.com",
        referral_code=foreign_code,
    )

    for body, existing_id in (
        ({"email": "OTHER@example.com"}, other["id"]),
        ({"external_id": "other"}, other["id"]),
        ({"referral_code": taken_code.lower()}, None),
        ({"referral_code": foreign_code}, None),
    ):
        response = await _patch(client, key, member["id"], body)
        assert response.status_code == 409, body
        assert response.json()["code"] == "conflict"
        assert response.json().get("existing_id") == existing_id
    unchanged = await client.get(f"/api/v1/members/{member['id']}", headers=key.headers)
    assert unchanged.json() == member

    # The same values are fine in another program of the workspace (codes excepted).
    elsewhere = await create_member(
        client, key, (await create_program(client, key))["id"], email="x@example.com"
    )
    moved = await _patch(
        client, key, elsewhere["id"], {"email": "other@example.com", "external_id": "other"}
    )
    assert moved.status_code == 200


async def test_patch_cannot_remove_both_identifiers(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    member = await create_member(client, key, program["id"], email="a@example.com", external_id="a")
    both = await _patch(client, key, member["id"], {"email": None, "external_id": None})
    assert both.status_code == 409
    assert both.json()["code"] == "conflict"
    one = await _patch(client, key, member["id"], {"email": None})
    assert one.status_code == 200
    assert (one.json()["email"], one.json()["external_id"]) == (None, "a")
    last = await _patch(client, key, member["id"], {"external_id": None})
    assert last.status_code == 409
    fetched = await client.get(f"/api/v1/members/{member['id']}", headers=key.headers)
    assert fetched.json()["external_id"] == "a"


@pytest.mark.parametrize(
    "body",
    [
        {"status": None},
        {"referral_code": None},
        {"metadata": None},
        {"status": "deleted"},
        {"referral_code": "no"},
        {"email": "nope"},
        {"program_id": "prog_01jd9x4k6b8v2q3r5s7t9w1y3z"},
    ],
)
async def test_invalid_patch_is_rejected(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any], body: dict[str, Any]
) -> None:
    member = await create_member(client, key, program["id"])
    response = await _patch(client, key, member["id"], body)
    assert response.status_code == 422, body
    fetched = await client.get(f"/api/v1/members/{member['id']}", headers=key.headers)
    assert fetched.json() == member


async def test_unknown_member_is_404(client: httpx.AsyncClient, key: Key, app: FastAPI) -> None:
    other_key = await new_key(app)
    theirs_program = await create_program(client, other_key)
    theirs = await create_member(client, other_key, theirs_program["id"])
    for member_id in ("mem_01jd9x4k6b8v2q3r5s7t9w1y3z", "junk", theirs["id"]):
        for method in ("GET", "PATCH", "DELETE"):
            response = await client.request(
                method,
                f"/api/v1/members/{member_id}",
                headers=key.headers,
                json={"name": "x"} if method == "PATCH" else None,
            )
            assert response.status_code == 404, (member_id, method)


# --- delete ------------------------------------------------------------------------------------


async def test_delete_erases_the_member_and_retires_its_code(
    client: httpx.AsyncClient, key: Key, program: dict[str, Any]
) -> None:
    code = _unique_code("GONE")
    member = await create_member(
        client,
        key,
        program["id"],
        email="Leaver@example.com",
        external_id="leaver",
        name="Lee",
        referral_code=code,
    )
    referral = await create_referral(client, key, code)

    response = await client.delete(f"/api/v1/members/{member['id']}", headers=key.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert (
        await client.get(f"/api/v1/members/{member['id']}", headers=key.headers)
    ).status_code == (404)
    assert (
        await client.delete(f"/api/v1/members/{member['id']}", headers=key.headers)
    ).status_code == (404)
    assert await _ids(client, key, program["id"]) == []
    assert await _ids(client, key, program["id"], q=code) == []

    # The same person signing up again is a new member with a new code ...
    again = await _post(
        client, key, program["id"], email="leaver@example.com", external_id="leaver"
    )
    assert again.status_code == 201
    assert again.json()["id"] != member["id"]
    assert again.json()["referral_code"].lower() != code.lower()
    # ... and the old code is never handed out again.
    reuse = await _post(client, key, program["id"], email="n@example.com", referral_code=code)
    assert reuse.status_code == 409
    patched = await _patch(client, key, again.json()["id"], {"referral_code": code.lower()})
    assert patched.status_code == 409

    # The deleted member's code no longer accepts referrals; its past referrals remain.
    refused = await client.post(
        "/api/v1/referrals",
        json={"referral_code": code, "referee": {"email": "late@example.com"}},
        headers=key.headers,
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "unknown_referral_code"
    kept = await client.get(f"/api/v1/referrals/{referral['id']}", headers=key.headers)
    assert kept.status_code == 200
    assert kept.json()["member_id"] == member["id"]
