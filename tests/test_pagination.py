"""Pagination, on programs: cursor style (default, stable under inserts) and offset style, both
answered in the one envelope ``{"data": [...], "meta": {"hasMore", "cursor", "limit", ...}}``."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.factories import Key, create_program

PROBLEM = "application/problem+json"
PROGRAMS = "/api/v1/programs"


@pytest.fixture
async def program_ids(client: httpx.AsyncClient, key: Key) -> list[str]:
    """Seven programs, in creation order."""
    return [(await create_program(client, key, name=f"P{i}"))["id"] for i in range(7)]


async def get_page(client: httpx.AsyncClient, key: Key, **params: Any) -> dict[str, Any]:
    response = await client.get(PROGRAMS, params=params, headers=key.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def follow(client: httpx.AsyncClient, key: Key, limit: int) -> list[list[str]]:
    """Every page from the first, by following cursors; ids per page."""
    pages: list[list[str]] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(50):
        page = await get_page(client, key, **params)
        pages.append([row["id"] for row in page["data"]])
        if not page["meta"]["hasMore"]:
            assert page["meta"]["cursor"] is None
            return pages
        params = {"limit": limit, "cursor": page["meta"]["cursor"]}
    raise AssertionError("cursor pagination did not end")


def assert_problem_422(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in {error["field"] for error in body["errors"]}


async def test_envelope(client: httpx.AsyncClient, key: Key, program_ids: list[str]) -> None:
    page = await get_page(client, key, limit=3)
    assert set(page) == {"data", "meta"}
    assert {"hasMore", "cursor", "limit"} <= set(page["meta"])
    assert "has_more" not in page["meta"]
    assert page["meta"]["limit"] == 3
    assert page["meta"]["hasMore"] is True
    assert isinstance(page["meta"]["cursor"], str)
    assert len(page["data"]) == 3
    assert {"id", "name", "slug"} <= set(page["data"][0])


async def test_default_page_size(
    client: httpx.AsyncClient, key: Key, program_ids: list[str]
) -> None:
    page = await get_page(client, key)
    assert page["meta"]["limit"] == 25
    assert page["meta"]["hasMore"] is False
    assert page["meta"]["cursor"] is None
    assert [row["id"] for row in page["data"]] == program_ids[::-1]


async def test_empty_list(client: httpx.AsyncClient, key: Key) -> None:
    page = await get_page(client, key, limit=3)
    assert page["data"] == []
    assert page["meta"]["hasMore"] is False
    assert page["meta"]["cursor"] is None
    assert page["meta"]["limit"] == 3


async def test_cursor_pages_cover_everything_once_newest_first(
    client: httpx.AsyncClient, key: Key, program_ids: list[str]
) -> None:
    pages = await follow(client, key, limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == program_ids[::-1]


@pytest.mark.parametrize("limit", [1, 2, 6, 7, 8, 100])
async def test_cursor_pages_for_any_limit(
    client: httpx.AsyncClient, key: Key, program_ids: list[str], limit: int
) -> None:
    pages = await follow(client, key, limit=limit)
    assert [i for p in pages for i in p] == program_ids[::-1]
    assert all(len(p) == limit for p in pages[:-1])
    assert 1 <= len(pages[-1]) <= limit


async def test_exact_multiple_has_no_empty_last_page(
    client: httpx.AsyncClient, key: Key, program_ids: list[str]
) -> None:
    page = await get_page(client, key, limit=7)
    assert len(page["data"]) == 7
    assert page["meta"]["hasMore"] is False
    assert page["meta"]["cursor"] is None


async def test_cursor_is_stable_under_inserts(
    client: httpx.AsyncClient, key: Key, program_ids: list[str]
) -> None:
    first = await get_page(client, key, limit=3)
    seen = [row["id"] for row in first["data"]]
    cursor = first["meta"]["cursor"]
    inserted: list[str] = []

    while cursor is not None:
        # Rows created between pages are newer than every cursor: never shown, nothing skipped.
        for i in range(2):
            inserted.append((await create_program(client, key, name=f"Late {i}"))["id"])
        page = await get_page(client, key, limit=3, cursor=cursor)
        seen += [row["id"] for row in page["data"]]
        cursor = page["meta"]["cursor"]

    assert seen == program_ids[::-1]
    assert len(inserted) == 4
    # A fresh walk starts with the new rows.
    assert [i for p in await follow(client, key, limit=4) for i in p] == (
        inserted[::-1] + program_ids[::-1]
    )


async def test_cursor_survives_deleting_the_row_it_points_at(
    client: httpx.AsyncClient, key: Key, program_ids: list[str]
) -> None:
    first = await get_page(client, key, limit=3)
    last_seen = first["data"][-1]["id"]
    response = await client.delete(f"{PROGRAMS}/{last_seen}", headers=key.headers)
    assert response.status_code == 204
    rest = await get_page(client, key, limit=10, cursor=first["meta"]["cursor"])
    assert [row["id"] for row in rest["data"]] == program_ids[::-1][3:]


async def test_cursor_respects_filters(client: httpx.AsyncClient, key: Key) -> None:
    paused = [
        (await create_program(client, key, name=f"Paused {i}", status="paused"))["id"]
        for i in range(3)
    ]
    for i in range(3):
        await create_program(client, key, name=f"Active {i}")
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2, "status": "paused"}
    while True:
        page = await get_page(client, key, **params)
        seen += [row["id"] for row in page["data"]]
        if not page["meta"]["hasMore"]:
            break
        params["cursor"] = page["meta"]["cursor"]
    assert seen == paused[::-1]


async def test_offset_style(client: httpx.AsyncClient, key: Key, program_ids: list[str]) -> None:
    newest_first = program_ids[::-1]

    page = await get_page(client, key, offset=0, count=3)
    assert [row["id"] for row in page["data"]] == newest_first[:3]
    assert {k: page["meta"][k] for k in ("hasMore", "cursor", "limit", "offset", "total")} == {
        "hasMore": True,
        "cursor": None,
        "limit": 3,
        "offset": 0,
        "total": 7,
    }

    page = await get_page(client, key, offset=3, count=3)
    assert [row["id"] for row in page["data"]] == newest_first[3:6]
    assert page["meta"]["hasMore"] is True
    assert page["meta"]["offset"] == 3

    page = await get_page(client, key, offset=6, count=3)
    assert [row["id"] for row in page["data"]] == newest_first[6:]
    assert page["meta"]["hasMore"] is False
    assert page["meta"]["total"] == 7

    page = await get_page(client, key, offset=4, count=3)
    assert page["meta"]["hasMore"] is False  # exactly the last three

    page = await get_page(client, key, offset=50, count=3)
    assert page["data"] == []
    assert page["meta"]["hasMore"] is False
    assert page["meta"]["total"] == 7


async def test_offset_style_with_only_one_parameter(
    client: httpx.AsyncClient, key: Key, program_ids: list[str]
) -> None:
    page = await get_page(client, key, offset=5)
    assert [row["id"] for row in page["data"]] == program_ids[::-1][5:]
    assert page["meta"]["total"] == 7
    assert page["meta"]["offset"] == 5

    page = await get_page(client, key, count=2)
    assert [row["id"] for row in page["data"]] == program_ids[::-1][:2]
    assert page["meta"]["offset"] == 0
    assert page["meta"]["total"] == 7
    assert page["meta"]["limit"] == 2


async def test_offset_total_respects_filters(client: httpx.AsyncClient, key: Key) -> None:
    for i in range(2):
        await create_program(client, key, name=f"Paused {i}", status="paused")
    await create_program(client, key, name="Active")
    page = await get_page(client, key, offset=0, count=1, status="paused")
    assert page["meta"]["total"] == 2
    assert page["meta"]["hasMore"] is True


@pytest.mark.parametrize("extra", [{"offset": 0}, {"count": 2}, {"offset": 1, "count": 2}])
async def test_cursor_and_offset_together(
    client: httpx.AsyncClient, key: Key, program_ids: list[str], extra: dict[str, int]
) -> None:
    first = await get_page(client, key, limit=3)
    response = await client.get(
        PROGRAMS, params={"cursor": first["meta"]["cursor"], **extra}, headers=key.headers
    )
    assert_problem_422(response, "cursor")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        base64.urlsafe_b64encode(b"not an id").decode(),
        base64.urlsafe_b64encode(b"prog_short").decode(),
        base64.urlsafe_b64encode("prog_ÿÿÿ".encode()).decode(),
        "x" * 200,
    ],
)
async def test_bad_cursor(client: httpx.AsyncClient, key: Key, cursor: str) -> None:
    response = await client.get(PROGRAMS, params={"cursor": cursor}, headers=key.headers)
    assert_problem_422(response, "cursor")


async def test_empty_cursor_starts_from_the_beginning(
    client: httpx.AsyncClient, key: Key, program_ids: list[str]
) -> None:
    page = await get_page(client, key, limit=2, cursor="")
    assert [row["id"] for row in page["data"]] == program_ids[::-1][:2]


async def test_overlong_cursor(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.get(PROGRAMS, params={"cursor": "a" * 201}, headers=key.headers)
    assert_problem_422(response, "cursor")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"count": 101}, "count"),
        ({"count": 0}, "count"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**7}, "offset"),
    ],
)
async def test_out_of_range_parameters(
    client: httpx.AsyncClient, key: Key, params: dict[str, Any], field: str
) -> None:
    response = await client.get(PROGRAMS, params=params, headers=key.headers)
    assert_problem_422(response, field)


async def test_limit_100_is_allowed(client: httpx.AsyncClient, key: Key) -> None:
    page = await get_page(client, key, limit=100)
    assert page["meta"]["limit"] == 100


async def test_other_lists_share_the_envelope(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    for path in (
        "/api/v1/keys",
        "/api/v1/referrals",
        f"/api/v1/programs/{program['id']}/members",
    ):
        response = await client.get(path, params={"limit": 1}, headers=key.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"data", "meta"}
        assert {"hasMore", "cursor", "limit"} <= set(body["meta"])
        bad = await client.get(path, params={"cursor": "garbage"}, headers=key.headers)
        assert_problem_422(bad, "cursor")


@pytest.mark.parametrize(
    ("name", "value"), [("offset", "0.0"), ("limit", "2.0"), ("count", "1e1"), ("limit", "two")]
)
async def test_an_integer_parameter_takes_digits_only(
    client: httpx.AsyncClient, key: Key, name: str, value: str
) -> None:
    response = await client.get(PROGRAMS, params={name: value}, headers=key.headers)
    assert_problem_422(response, name)
    (error,) = [e for e in response.json()["errors"] if e["field"] == name]
    assert error["type"] == "int_parsing"


@pytest.mark.parametrize(("name", "value"), [("offset", "0"), ("limit", "+2"), ("count", " 3 ")])
async def test_an_integer_parameter_in_digits_is_taken(
    client: httpx.AsyncClient, key: Key, name: str, value: str
) -> None:
    response = await client.get(PROGRAMS, params={name: value}, headers=key.headers)
    assert response.status_code == 200, response.text


async def test_an_integer_parameter_keeps_its_bounds(client: httpx.AsyncClient, key: Key) -> None:
    assert_problem_422(
        await client.get(PROGRAMS, params={"limit": "0"}, headers=key.headers), "limit"
    )
    assert_problem_422(
        await client.get(PROGRAMS, params={"limit": "101"}, headers=key.headers), "limit"
    )
