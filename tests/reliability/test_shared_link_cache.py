"""Two real server processes sharing one database and one Redis: a change made through one
process is followed by the other's very next redirects, although both keep links cached for
five minutes — link edits, archives, a program's landing URL and a deleted member — and an API
key revoked through one process is refused by the other's event intake, although both trust
authenticated credentials for five minutes."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.processes import Server, cli_env, run_cli, serve

REDIS_URL = os.environ.get("REFERKIT_TEST_REDIS_URL")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not REDIS_URL, reason="needs REFERKIT_TEST_REDIS_URL"),
]

# The change crosses Redis in milliseconds; the cache TTL is 300 s.
DEADLINE_SECONDS = 2.0


def _location(server: Server, code: str) -> str | None:
    """Where ``/r/{code}`` sends a browser (without the query), or None for a 404."""
    response = httpx.get(f"{server.base_url}/r/{code}", headers={"user-agent": "Mozilla/5.0"})
    if response.status_code == 404:
        return None
    assert response.status_code == 302, response.text
    return response.headers["location"].split("?")[0]


def _follows(server: Server, code: str, expected: str | None) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while (seen := _location(server, code)) != expected:
        assert time.monotonic() < deadline, f"still {seen!r}, expected {expected!r}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, Server, dict[str, str]]]:
    assert REDIS_URL is not None
    tmp_path = tmp_path_factory.mktemp("shared-link-cache")
    env = cli_env(
        tmp_path / "data",
        redis_url=REDIS_URL,
        redis_prefix=f"t-{uuid.uuid4().hex}",
        link_cache_ttl_seconds="300",
        auth_cache_ttl_seconds="300",
    )
    env["PYTHONWARNINGS"] = "always::ResourceWarning"  # a leaked socket shows in the log
    created = run_cli("keys", "create", "--workspace", "Shared", "--json", env=env)
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {json.loads(created.stdout)['secret']}"}
    with serve(env, tmp_path / "logs") as first, serve(env, tmp_path / "logs") as second:
        yield first, second, headers
        # Each process shut down in order and left no connection open.
        for server in (first, second):
            server.stop()
            server.assert_stopped_cleanly()
            assert "ResourceWarning" not in server.stderr, server.stderr
            assert "Traceback" not in server.stderr, server.stderr


def test_an_edit_reaches_every_process_at_once(
    servers: tuple[Server, Server, dict[str, str]],
) -> None:
    first, second, headers = servers
    link = httpx.post(
        f"{first.base_url}/api/v1/links",
        json={"destination_url": "https://example.com/old"},
        headers=headers,
    ).json()
    # Both processes now hold the link in their caches.
    assert _location(first, link["code"]) == "https://example.com/old"
    assert _location(second, link["code"]) == "https://example.com/old"
    edited = httpx.patch(
        f"{first.base_url}/api/v1/links/{link['id']}",
        json={"destination_url": "https://example.com/new"},
        headers=headers,
    )
    assert edited.status_code == 200, edited.text
    _follows(second, link["code"], "https://example.com/new")
    assert _location(first, link["code"]) == "https://example.com/new"
    # An archive through the other process: the first one stops redirecting too.
    archived = httpx.delete(f"{second.base_url}/api/v1/links/{link['id']}", headers=headers)
    assert archived.status_code == 204, archived.text
    _follows(first, link["code"], None)


def test_member_links_follow_the_program_everywhere(
    servers: tuple[Server, Server, dict[str, str]],
) -> None:
    first, second, headers = servers
    program = httpx.post(
        f"{first.base_url}/api/v1/programs",
        json={"name": f"Shared {uuid.uuid4().hex[:6]}", "landing_url": "https://example.com/a"},
        headers=headers,
    ).json()
    member = httpx.post(
        f"{first.base_url}/api/v1/programs/{program['id']}/members",
        json={"email": f"{uuid.uuid4().hex[:8]}@example.com"},
        headers=headers,
    ).json()
    code = member["referral_code"]
    assert _location(first, code) == "https://example.com/a"
    assert _location(second, code) == "https://example.com/a"
    moved = httpx.patch(
        f"{first.base_url}/api/v1/programs/{program['id']}",
        json={"landing_url": "https://example.com/b"},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    _follows(second, code, "https://example.com/b")
    # A deleted member's links stop redirecting in every process.
    deleted = httpx.delete(f"{first.base_url}/api/v1/members/{member['id']}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    _follows(second, code, None)


def _event(server: Server, headers: dict[str, str]) -> int:
    body = {"event_id": f"e-{uuid.uuid4().hex}", "type": "open"}
    return httpx.post(f"{server.base_url}/api/v1/events", json=body, headers=headers).status_code


def test_a_revoked_key_fails_at_once_in_every_process(
    servers: tuple[Server, Server, dict[str, str]],
) -> None:
    first, second, headers = servers
    created = httpx.post(
        f"{first.base_url}/api/v1/keys",
        json={"name": "short-lived", "scope": "full"},
        headers=headers,
    ).json()
    doomed = {"Authorization": f"Bearer {created['secret']}"}
    # Both processes authenticate the key once; their intakes then answer from memory.
    for server in (first, second, first, second):
        assert _event(server, doomed) == 201
    revoked = httpx.delete(f"{first.base_url}/api/v1/keys/{created['id']}", headers=headers)
    assert revoked.status_code == 204, revoked.text
    assert _event(first, doomed) == 401
    deadline = time.monotonic() + DEADLINE_SECONDS
    while (status := _event(second, doomed)) != 401:
        assert status == 201, status
        assert time.monotonic() < deadline, "the other process still accepts the key"
        time.sleep(0.02)
