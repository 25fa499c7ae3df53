"""Every failure is RFC 9457 problem+json with a stable machine code, and no input gives a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Key, create_member, create_program

PROBLEM = "application/problem+json"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"/problems/{code}"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in body["errors"]}


# --- routing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/nope", "/api/v1/nope", "/api/v2/programs", "/api/v1/programs/x/y/z"]
)
async def test_unknown_route(client: httpx.AsyncClient, key: Key, path: str) -> None:
    body = assert_problem(await client.get(path, headers=key.headers), 404, "not_found")
    assert path in body["detail"]


@pytest.mark.parametrize(
    ("path", "without_slash"),
    [
        ("/api/v1/programs/?x=1", "/api/v1/programs"),
        ("/api/v1/docs/", "/api/v1/docs"),
        ("/problems/not_found/", "/problems/not_found"),
        ("/healthz/", "/healthz"),
    ],
)
async def test_no_redirect_is_built_from_the_host_header(
    client: httpx.AsyncClient, key: Key, path: str, without_slash: str
) -> None:
    """A trailing slash used to answer 307 to ``http://<Host header>/…``: an open redirect to
    whatever host the request named. Now a 404 problem that names the path to use."""
    response = await client.get(path, headers={**key.headers, "Host": "evil.example"})
    body = assert_problem(response, 404, "not_found")
    assert "location" not in response.headers
    assert "evil.example" not in response.text
    assert f"Without the trailing slash: {without_slash}." in body["detail"]
    assert (await client.get(without_slash, headers=key.headers)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/v1/programs", "GET, POST"),
        ("PUT", "/api/v1/programs/prog_01jd9x4k6b8v2q3r5s7t9w1y3z", "GET, PATCH, DELETE"),
        ("POST", "/api/v1/workspace", "GET, PATCH"),
        ("DELETE", "/api/v1/referrals/ref_01jd9x4k6b8v2q3r5s7t9w1y3z", "GET, PATCH"),
        ("PATCH", "/api/v1/keys", "GET, POST"),
        ("PUT", "/api/v1/keys", "GET, POST"),
        ("PUT", "/api/v1/keys/key_01jd9x4k6b8v2q3r5s7t9w1y3z", "GET, PATCH, DELETE"),
        ("PUT", "/api/v1/events", "GET, POST"),
    ],
)
async def test_wrong_method(
    client: httpx.AsyncClient, key: Key, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path, headers=key.headers)
    body = assert_problem(response, 405, "method_not_allowed")
    assert method in body["detail"]
    # Every method of the path, not only those of the first route that matched it.
    assert response.headers["allow"] == allow


async def test_unknown_object_id(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.get(
        "/api/v1/programs/prog_01jd9x4k6b8v2q3r5s7t9w1y3z", headers=key.headers
    )
    body = assert_problem(response, 404, "not_found")
    assert "prog_01jd9x4k6b8v2q3r5s7t9w1y3z" in body["detail"]


async def test_problem_types_are_documented(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.get("/api/v1/nope", headers=key.headers)
    page = await client.get(response.json()["type"])
    assert page.status_code == 200
    assert "not_found" in page.text


# --- request bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"{bad json", b'{"name": "x",}', b"[1, 2", b'"unterminated', b"{'single': 'quotes'}"],
)
async def test_malformed_json(client: httpx.AsyncClient, key: Key, content: bytes) -> None:
    response = await client.post(
        "/api/v1/programs",
        content=content,
        headers={**key.headers, "content-type": "application/json"},
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "body"
    assert body["errors"][0]["in"] == "body"


async def test_body_of_the_wrong_type(client: httpx.AsyncClient, key: Key) -> None:
    for payload in ([], "text", 7, None):
        response = await client.post("/api/v1/programs", json=payload, headers=key.headers)
        assert_problem(response, 422, "validation_error")


async def test_missing_body(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.post("/api/v1/programs", headers=key.headers)
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    "extra",
    [
        {"id": "prog_01jd9x4k6b8v2q3r5s7t9w1y3z"},
        {"created_at": "2024-01-01T00:00:00Z"},
        {"updated_at": "2024-01-01T00:00:00Z"},
        {"livemode": False},
        {"workspace_id": "ws_01jd9x4k6b8v2q3r5s7t9w1y3z"},
        {"nmae": "typo"},
    ],
)
async def test_unknown_fields_are_rejected(
    client: httpx.AsyncClient, key: Key, extra: dict[str, Any]
) -> None:
    body = {"name": "P", "landing_url": "https://example.com/signup", **extra}
    response = await client.post("/api/v1/programs", json=body, headers=key.headers)
    problem = assert_problem(response, 422, "validation_error")
    assert fields(problem) == set(extra)
    assert (await client.get("/api/v1/programs", headers=key.headers)).json()["data"] == []


async def test_unknown_nested_fields_are_rejected(client: httpx.AsyncClient, key: Key) -> None:
    body = {
        "name": "P",
        "landing_url": "https://example.com/signup",
        "attribution": {"model": "last_click", "sneaky": 1},
    }
    response = await client.post("/api/v1/programs", json=body, headers=key.headers)
    assert fields(assert_problem(response, 422, "validation_error")) == {"attribution.sneaky"}


async def test_unknown_fields_on_update_are_rejected(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    response = await client.patch(
        f"/api/v1/programs/{program['id']}",
        json={"id": "prog_01jd9x4k6b8v2q3r5s7t9w1y3z", "created_at": "2020-01-01T00:00:00Z"},
        headers=key.headers,
    )
    problem = assert_problem(response, 422, "validation_error")
    assert fields(problem) == {"id", "created_at"}
    again = await client.get(f"/api/v1/programs/{program['id']}", headers=key.headers)
    assert again.json() == program


async def test_every_bad_field_is_listed(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.post(
        "/api/v1/programs",
        json={
            "name": "",
            "landing_url": "ftp://example.com",
            "status": "sleeping",
            "attribution": {"window_days": 0},
        },
        headers=key.headers,
    )
    problem = assert_problem(response, 422, "validation_error")
    assert fields(problem) == {"name", "landing_url", "status", "attribution.window_days"}
    for error in problem["errors"]:
        assert error["in"] == "body"
        assert error["message"]
        assert error["type"]
    for name in ("name", "landing_url"):
        assert name in problem["detail"]


async def test_nested_field_paths_are_dotted(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    response = await client.post(
        "/api/v1/referrals",
        json={"referral_code": member["referral_code"], "referee": {"email": "not-an-email"}},
        headers=key.headers,
    )
    problem = assert_problem(response, 422, "validation_error")
    assert fields(problem) == {"referee.email"}


async def test_list_item_paths_are_dotted(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.post(
        "/api/v1/programs",
        json={
            "name": "P",
            "landing_url": "https://example.com",
            "reward_rules": [
                {
                    "recipient": "referrer",
                    "trigger": "referral_created",
                    "kind": "points",
                    "amount": 5,
                },
                {
                    "recipient": "nobody",
                    "trigger": "referral_created",
                    "kind": "points",
                    "amount": 5,
                },
            ],
        },
        headers=key.headers,
    )
    problem = assert_problem(response, 422, "validation_error")
    assert fields(problem) == {"reward_rules.1.recipient"}


async def test_missing_required_fields(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.post("/api/v1/programs", json={}, headers=key.headers)
    problem = assert_problem(response, 422, "validation_error")
    assert fields(problem) == {"name", "landing_url"}
    assert {e["type"] for e in problem["errors"]} == {"missing"}


async def test_bad_query_parameters(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.get(
        "/api/v1/referrals",
        params={"status": "sleeping", "created_after": "yesterday"},
        headers=key.headers,
    )
    problem = assert_problem(response, 422, "validation_error")
    assert fields(problem) == {"status", "created_after"}
    assert {e["in"] for e in problem["errors"]} == {"query"}


# --- text a database cannot store ------------------------------------------------------------


@pytest.mark.parametrize("query", ["status=%00", "q=a%00b", "limit=1&cursor=%00", "%00=1"])
async def test_nul_in_query_string(client: httpx.AsyncClient, key: Key, query: str) -> None:
    response = await client.get(f"/api/v1/referrals?{query}", headers=key.headers)
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["in"] == "query"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/programs/prog%00x",
        "/api/v1/members/%00",
        "/api/v1/programs%00",
        "/api/v1/referrals/ref_01jd9x4k6b8v2q3r5s7t9w1y3%00",
    ],
)
async def test_nul_in_path(client: httpx.AsyncClient, key: Key, path: str) -> None:
    assert_problem(await client.get(path, headers=key.headers), 404, "not_found")


@pytest.mark.parametrize(
    "raw_value",
    [r"\u0000", r"abc\u0000def", r"\ud800", r"\udfff", r"x\ud83dy", r"\udc00\ud800"],
    ids=["nul", "inner-nul", "high-surrogate", "low-surrogate", "broken-pair", "reversed-pair"],
)
async def test_unstorable_text_in_json_strings(
    client: httpx.AsyncClient, key: Key, raw_value: str
) -> None:
    bodies = [
        ("/api/v1/programs", f'{{"name": "{raw_value}", "landing_url": "https://example.com"}}'),
        ("/api/v1/keys", f'{{"name": "{raw_value}", "scope": "full"}}'),
    ]
    program = await create_program(client, key)
    member_path = f"/api/v1/programs/{program['id']}/members"
    bodies += [
        (member_path, f'{{"email": "a@example.com", "name": "{raw_value}"}}'),
        (member_path, f'{{"email": "a@example.com", "metadata": {{"k": "{raw_value}"}}}}'),
        (member_path, f'{{"email": "a@example.com", "metadata": {{"{raw_value}": 1}}}}'),
        (member_path, f'{{"email": "a@example.com", "metadata": {{"k": ["ok", "{raw_value}"]}}}}'),
        (
            "/api/v1/referrals",
            f'{{"referral_code": "CODE1", "referee": {{"email": "f@example.com", '
            f'"name": "{raw_value}"}}}}',
        ),
    ]
    for path, text in bodies:
        response = await client.post(
            path,
            content=text.encode(),
            headers={**key.headers, "content-type": "application/json"},
        )
        assert_problem(response, 422, "validation_error")

    members = await client.get(member_path, headers=key.headers)
    assert members.json()["data"] == []


async def test_unstorable_text_in_updates(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    for path, text in (
        (f"/api/v1/programs/{program['id']}", r'{"name": "a\u0000b"}'),
        (f"/api/v1/members/{member['id']}", r'{"name": "\ud800"}'),
    ):
        response = await client.patch(
            path,
            content=text.encode(),
            headers={**key.headers, "content-type": "application/json"},
        )
        assert_problem(response, 422, "validation_error")
    again = await client.get(f"/api/v1/members/{member['id']}", headers=key.headers)
    assert again.json()["name"] == member["name"]


async def test_invalid_utf8_body_is_not_a_500(client: httpx.AsyncClient, key: Key) -> None:
    response = await client.post(
        "/api/v1/programs",
        content=b'{"name": "\xff\xfe", "landing_url": "https://example.com"}',
        headers={**key.headers, "content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize("query", ["q=%ED%A0%80", "q=%FF%FE", "status=%C0%80"])
async def test_invalid_utf8_in_query_is_not_a_500(
    client: httpx.AsyncClient, key: Key, query: str
) -> None:
    response = await client.get(f"/api/v1/referrals?{query}", headers=key.headers)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    "path", ["/api/v1/programs/%ED%A0%80", "/api/v1/members/%FF", "/api/v1/%C0%80"]
)
async def test_invalid_utf8_in_path_is_not_a_500(
    client: httpx.AsyncClient, key: Key, path: str
) -> None:
    assert_problem(await client.get(path, headers=key.headers), 404, "not_found")


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/workspace", 200),
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/nope", 404),
        ("DELETE", "/api/v1/programs", 405),
        ("GET", "/api/v1/programs?limit=0", 422),
        ("GET", "/api/v1/programs?q=%00", 422),
        ("GET", "/api/v1/programs/%00", 404),
    ],
)
async def test_security_headers(
    client: httpx.AsyncClient, key: Key, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, headers=key.headers)
    assert response.status_code == status, response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name


async def test_security_headers_on_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/workspace")
    assert response.status_code == 401
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name


@pytest.mark.parametrize(
    "query",
    [
        "created_after=0001-01-01T00:00:00%2B14:00",
        "created_before=9999-12-31T23:59:59-14:00",
    ],
)
async def test_datetimes_without_a_utc_equivalent(
    client: httpx.AsyncClient, key: Key, query: str
) -> None:
    response = await client.get(f"/api/v1/referrals?{query}", headers=key.headers)
    problem = assert_problem(response, 422, "validation_error")
    assert fields(problem) == {query.split("=")[0]}


@pytest.mark.parametrize(
    "query",
    [
        "created_after=0001-01-01T00:00:00Z",
        "created_before=9999-12-31T23:59:59Z",
        "created_after=2024-06-01T12:00:00%2B02:00",
        "created_after=2024-06-01",
    ],
)
async def test_datetimes_at_the_edges_are_accepted(
    client: httpx.AsyncClient, key: Key, query: str
) -> None:
    response = await client.get(f"/api/v1/referrals?{query}", headers=key.headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "path", ["/api/v1/referrals?q=a&q=b", "/api/v1/events?type=signup&type=purchase"]
)
async def test_a_query_parameter_given_twice_is_refused(
    client: httpx.AsyncClient, key: Key, path: str
) -> None:
    response = await client.get(path, headers=key.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["in"] == "query"
    assert problem["errors"][0]["field"] in ("q", "type")
