"""Links over HTTP: CRUD, QR codes, member default links, one code space, tenancy, test mode."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Mode
from tests.factories import Key, create_member, create_program, new_key

LINKS = "/api/v1/links"


def _code() -> str:
    return f"L{uuid.uuid4().hex[:10].upper()}"


async def _create(client: httpx.AsyncClient, key: Key, **body: Any) -> httpx.Response:
    return await client.post(LINKS, json=body, headers=key.headers)


async def test_create_read_update_archive(client: httpx.AsyncClient, key: Key) -> None:
    code = _code()
    created = await _create(
        client,
        key,
        code=code,
        destination_url="https://example.com/pricing",
        ios_url="https://apps.apple.com/app/id1",
        utm={"source": "newsletter", "campaign": "spring"},
        expires_at="2099-01-01T00:00:00+02:00",
    )
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["id"].startswith("lnk_")
    assert link["code"] == code
    assert link["short_url"] == f"http://testserver/r/{code}"
    assert link["utm"] == {
        "source": "newsletter",
        "medium": None,
        "campaign": "spring",
        "term": None,
        "content": None,
    }
    assert link["expires_at"] == "2098-12-31T22:00:00Z"
    assert (link["clicks"], link["unique_clicks"], link["livemode"]) == (0, 0, True)

    fetched = await client.get(f"{LINKS}/{link['id']}", headers=key.headers)
    assert fetched.json() == link

    patched = await client.patch(
        f"{LINKS}/{link['id']}",
        json={"destination_url": "https://example.com/other", "utm": None},
        headers=key.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["destination_url"] == "https://example.com/other"
    assert patched.json()["utm"]["source"] is None

    listed = await client.get(LINKS, headers=key.headers)
    assert [item["id"] for item in listed.json()["data"]] == [link["id"]]

    deleted = await client.delete(f"{LINKS}/{link['id']}", headers=key.headers)
    assert deleted.status_code == 204
    assert (await client.get(f"{LINKS}/{link['id']}", headers=key.headers)).status_code == 404
    # The code of an archived link is never handed out again (in any case).
    again = await _create(client, key, code=code.lower(), destination_url="https://e.com/")
    assert again.status_code == 409


async def test_generated_code_and_program_fallback(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    created = await _create(client, key, program_id=program["id"])
    assert created.status_code == 201, created.text
    link = created.json()
    assert len(link["code"]) == 8
    assert link["destination_url"] is None  # follows the program's landing URL
    assert link["program_id"] == program["id"]

    refused = await _create(client, key)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "destination_url"


async def test_every_member_gets_a_default_link(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    listed = await client.get(LINKS, params={"member_id": member["id"]}, headers=key.headers)
    (link,) = listed.json()["data"]
    assert link["is_default"] is True
    assert link["code"] == member["referral_code"]
    assert link["short_url"] == member["referral_link"]
    assert link["program_id"] == program["id"]


async def test_links_and_member_codes_share_one_space(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    clash = await _create(
        client, key, code=member["referral_code"].lower(), destination_url="https://e.com/"
    )
    assert clash.status_code == 409

    code = _code()
    assert (await _create(client, key, code=code, destination_url="https://e.com/")).is_success
    taken = await client.post(
        f"/api/v1/programs/{program['id']}/members",
        json={"email": "other@example.com", "referral_code": code},
        headers=key.headers,
    )
    assert taken.status_code == 409
    renamed = await client.patch(
        f"/api/v1/members/{member['id']}", json={"referral_code": code}, headers=key.headers
    )
    assert renamed.status_code == 409


async def test_codes_are_one_namespace_across_workspaces(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    """Links and members hold their codes per workspace; the ``codes`` reference table keeps
    them unique across the installation and tells the redirect which workspace to read."""
    other = await new_key(app)
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    code = _code()
    mine = await _create(client, key, code=code, destination_url="https://mine.example/")
    assert mine.status_code == 201, mine.text
    theirs = await create_program(client, other)
    for taken in (code, member["referral_code"]):
        clash = await _create(client, other, code=taken.lower(), destination_url="https://e.com/")
        assert clash.status_code == 409, clash.text
        as_member = await client.post(
            f"/api/v1/programs/{theirs['id']}/members",
            json={"email": "x@example.com", "referral_code": taken},
            headers=other.headers,
        )
        assert as_member.status_code == 409, as_member.text
    # Two workspaces asking for one new code at once: one gets it, the other a 409.
    racing = _code()
    answers = await asyncio.gather(
        *(_create(client, k, code=racing, destination_url="https://e.com/") for k in (key, other))
    )
    assert sorted(a.status_code for a in answers) == [201, 409]
    redirect = await client.get(f"/r/{code}")
    assert redirect.headers["location"].startswith("https://mine.example/")


async def test_a_deleted_programs_codes_are_free_again(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    code = _code()
    link = await _create(client, key, code=code, program_id=program["id"])
    assert link.status_code == 201, link.text
    deleted = await client.delete(f"/api/v1/programs/{program['id']}", headers=key.headers)
    assert deleted.status_code == 204, deleted.text
    assert (await client.get(f"/r/{code}")).status_code == 404
    again = await create_program(client, key)
    reused = await create_member(
        client, key, again["id"], email="again@example.com", referral_code=member["referral_code"]
    )
    assert reused["referral_code"] == member["referral_code"]
    relinked = await _create(client, key, code=code, destination_url="https://e.com/")
    assert relinked.status_code == 201, relinked.text


async def test_member_code_change_keeps_the_old_link(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    old_code, new_code = member["referral_code"], _code()
    renamed = await client.patch(
        f"/api/v1/members/{member['id']}", json={"referral_code": new_code}, headers=key.headers
    )
    assert renamed.status_code == 200, renamed.text
    listed = await client.get(LINKS, params={"member_id": member["id"]}, headers=key.headers)
    links = {link["code"]: link["is_default"] for link in listed.json()["data"]}
    assert links == {old_code: False, new_code: True}
    # Nobody else can take the old code.
    other = await client.post(
        f"/api/v1/programs/{program['id']}/members",
        json={"email": "taker@example.com", "referral_code": old_code},
        headers=key.headers,
    )
    assert other.status_code == 409


async def test_member_link_must_match_program(client: httpx.AsyncClient, key: Key) -> None:
    first, second = await create_program(client, key), await create_program(client, key)
    member = await create_member(client, key, first["id"])
    response = await _create(client, key, member_id=member["id"], program_id=second["id"])
    assert response.status_code == 422
    unknown = await _create(client, key, member_id="mem_01jd9x4k6b8v2q3r5s7t9w1y3z")
    assert unknown.status_code == 422
    app = await _create(client, key, app_id="app_x", destination_url="https://e.com/")
    assert app.status_code == 422


@pytest.mark.parametrize(
    ("fmt", "content_type", "magic"),
    [
        ("svg", "image/svg+xml", b"<?xml"),
        ("png", "image/png", b"\x89PNG"),
    ],
)
async def test_qr_code(
    client: httpx.AsyncClient, key: Key, fmt: str, content_type: str, magic: bytes
) -> None:
    link = (await _create(client, key, destination_url="https://e.com/")).json()
    response = await client.get(
        f"{LINKS}/{link['id']}/qr", params={"format": fmt}, headers=key.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert response.content.startswith(magic)


async def test_other_workspace_and_test_mode_see_nothing(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    link = (await _create(client, key, destination_url="https://e.com/")).json()
    stranger = await new_key(app)
    workspace = (await client.get("/api/v1/workspace", headers=key.headers)).json()["name"]
    test_key = await new_key(app, workspace=workspace, mode=Mode.test)
    for other in (stranger, test_key):
        for method, path in (
            ("GET", f"{LINKS}/{link['id']}"),
            ("PATCH", f"{LINKS}/{link['id']}"),
            ("DELETE", f"{LINKS}/{link['id']}"),
            ("GET", f"{LINKS}/{link['id']}/qr"),
        ):
            body = {"destination_url": "https://evil.example/"} if method == "PATCH" else None
            response = await client.request(method, path, json=body, headers=other.headers)
            assert response.status_code == 404, (method, path)
        assert (await client.get(LINKS, headers=other.headers)).json()["data"] == []
