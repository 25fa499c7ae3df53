"""Two real server processes sharing one Redis enforce one limit per key."""

from __future__ import annotations

import json
import os
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


def test_two_processes_share_one_limit(tmp_path: Path) -> None:
    assert REDIS_URL is not None
    env = cli_env(tmp_path / "data", redis_url=REDIS_URL, redis_prefix=f"t-{uuid.uuid4().hex}")
    created = run_cli("keys", "create", "--workspace", "Shared", "--json", env=env)
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["secret"]
    headers = {"Authorization": f"Bearer {secret}"}
    with serve(env, tmp_path / "logs") as first, serve(env, tmp_path / "logs") as second:
        limited = httpx.post(
            f"{first.base_url}/api/v1/keys",
            json={"name": "five a minute", "scope": "read_only", "rate_limit_per_minute": 5},
            headers=headers,
        )
        assert limited.status_code == 201, limited.text
        five = {"Authorization": f"Bearer {limited.json()['secret']}"}
        answers = [
            httpx.get(f"{server.base_url}/api/v1/programs", headers=five)
            for server in (first, second, first, second, first, second)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200, 429]
    remaining = [int(a.headers["RateLimit-Remaining"]) for a in answers]
    assert remaining[0] == 4
    assert remaining == sorted(remaining, reverse=True)  # one counter, shared
    assert remaining[-1] == 0
    assert answers[5].json()["code"] == "rate_limited"
    assert int(answers[5].headers["Retry-After"]) >= 1
