"""Two real server processes sharing one Redis: an edit made through one process is followed
by the other's very next redirect, although both keep links cached for five minutes."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.processes import cli_env, run_cli, serve

REDIS_URL = os.environ.get("REFERKIT_TEST_REDIS_URL")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not REDIS_URL, reason="needs REFERKIT_TEST_REDIS_URL"),
]


def _location(base_url: str, code: str) -> str:
    response = httpx.get(f"{base_url}/r/{code}")
    assert response.status_code == 302, response.text
    return response.headers["location"].split("?")[0]


def test_an_edit_reaches_every_process_at_once(tmp_path: Path) -> None:
    assert REDIS_URL is not None
    env = cli_env(
        tmp_path / "data",
        redis_url=REDIS_URL,
        redis_prefix=f"t-{uuid.uuid4().hex}",
        link_cache_ttl_seconds="300",
    )
    created = run_cli("keys", "create", "--workspace", "Shared", "--json", env=env)
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {json.loads(created.stdout)['secret']}"}
    with serve(env, tmp_path / "logs") as first, serve(env, tmp_path / "logs") as second:
        link = httpx.post(
            f"{first.base_url}/api/v1/links",
            json={"destination_url": "https://example.com/old"},
            headers=headers,
        ).json()
        # Both processes (and Redis) now hold the link.
        assert _location(first.base_url, link["code"]) == "https://example.com/old"
        assert _location(second.base_url, link["code"]) == "https://example.com/old"
        edited = httpx.patch(
            f"{first.base_url}/api/v1/links/{link['id']}",
            json={"destination_url": "https://example.com/new"},
            headers=headers,
        )
        assert edited.status_code == 200, edited.text
        deadline = time.monotonic() + 2  # the broadcast crosses Redis in milliseconds
        while _location(second.base_url, link["code"]) != "https://example.com/new":
            assert time.monotonic() < deadline, "the other process kept the old destination"
            time.sleep(0.02)
        assert _location(first.base_url, link["code"]) == "https://example.com/new"
