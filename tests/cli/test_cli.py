"""The installed ``referkit`` command, run as real processes on a temporary data directory.

Covers ``keys create|list|revoke`` (checked against a running server), configuration errors,
and ``serve --demo``: the banner, the demo data over HTTP, links on the server's own address,
a clean SIGTERM, and an idempotent demo seed across restarts.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest

from referkit.cli.demo import DEMO_SLUG
from referkit.db import migrate
from tests.processes import PG_URL, cli_env, free_port, run_cli, serve, throwaway_postgres

HEAD = migrate.head_revision()
Json = dict[str, Any]
KEY_FIELDS = {"workspace_id", "key_id", "public_key", "secret"}


def create_key(env: dict[str, str], *args: str) -> dict[str, str]:
    result = run_cli("keys", "create", "--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    key: dict[str, str] = json.loads(lines[0])
    assert set(key) == KEY_FIELDS
    return key


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_keys_create_json_reuses_the_workspace(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    args = ("--workspace", "Acme", "--scope", "read_only", "--mode", "test")
    first, second = create_key(env, *args), create_key(env, *args)

    assert first["workspace_id"] == second["workspace_id"]
    assert first["workspace_id"].startswith("ws_")
    assert first["key_id"] != second["key_id"]
    assert first["secret"] != second["secret"]
    for key in (first, second):
        assert key["key_id"].startswith("key_")
        assert key["public_key"].startswith("pk_test_")
        assert key["secret"].startswith("rk_test_")

    other = create_key(env, "--workspace", "Other")
    assert other["workspace_id"] != first["workspace_id"]
    assert other["secret"].startswith("rk_live_")
    # The default data dir was used: nothing outside tmp_path.
    assert (tmp_path / "referkit.db").exists()


def test_keys_list_revoke_against_a_running_server(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    args = ("--workspace", "Acme", "--scope", "read_only", "--mode", "test")
    revoked, kept = create_key(env, *args), create_key(env, *args)

    # A narrow terminal must not shorten the ids `keys revoke` needs.
    narrow = {**env, "COLUMNS": "60"}
    listed = run_cli("keys", "list", "--workspace", "Acme", "--mode", "test", env=narrow)
    assert listed.returncode == 0, listed.stderr
    output = listed.stdout + listed.stderr
    assert revoked["key_id"] in output
    assert kept["key_id"] in output
    live = run_cli("keys", "list", "--workspace", "Acme", "--mode", "live", env=env)
    assert revoked["key_id"] not in live.stdout + live.stderr

    with serve(env, tmp_path / "logs", "--no-access-log") as server:
        url = f"{server.base_url}/api/v1/workspace"
        workspace = httpx.get(url, headers=bearer(revoked["secret"]), timeout=10)
        assert workspace.status_code == 200, workspace.text
        assert workspace.json()["name"] == "Acme"
        assert workspace.json()["mode"] == "test"
        # read_only: writes are refused.
        write = httpx.post(
            f"{server.base_url}/api/v1/programs",
            json={"name": "Nope", "landing_url": "https://example.com"},
            headers=bearer(kept["secret"]),
            timeout=10,
        )
        assert write.status_code == 403, write.text

        result = run_cli(
            "keys", "revoke", revoked["key_id"], "--workspace", "Acme", "--mode", "test", env=env
        )
        assert result.returncode == 0, result.stderr
        assert f"Revoked {revoked['key_id']}" in result.stderr

        assert httpx.get(url, headers=bearer(revoked["secret"]), timeout=10).status_code == 401
        assert httpx.get(url, headers=bearer(kept["secret"]), timeout=10).status_code == 200
    server.assert_stopped_cleanly()

    listed = run_cli("keys", "list", "--workspace", "Acme", "--mode", "test", env=env)
    assert revoked["key_id"] not in listed.stdout + listed.stderr
    assert kept["key_id"] in listed.stdout + listed.stderr
    assert "read_only" in listed.stdout + listed.stderr

    again = run_cli(
        "keys", "revoke", revoked["key_id"], "--workspace", "Acme", "--mode", "test", env=env
    )
    assert again.returncode == 1
    assert revoked["key_id"] in again.stderr


def test_unknown_setting_exits_2_naming_it(tmp_path: Path) -> None:
    env = {**cli_env(tmp_path), "REFERKIT_FOO": "bar", "COLUMNS": "60"}
    result = run_cli("keys", "create", "--json", env=env)
    assert result.returncode == 2
    # One unwrapped line naming the culprit and the known settings.
    [line] = [line for line in result.stderr.splitlines() if "REFERKIT_FOO" in line]
    assert "REFERKIT_DATABASE_URL" in line
    assert "REFERKIT_SECRET_KEY" in line
    assert result.stdout == ""
    assert not (tmp_path / "referkit.db").exists()


def test_invalid_setting_exits_2_naming_it(tmp_path: Path) -> None:
    env = cli_env(tmp_path, base_url="ftp://example.com")
    result = run_cli("db", "current", env=env)
    assert result.returncode == 2
    assert "REFERKIT_BASE_URL" in result.stderr


def test_test_suite_variables_are_ignored(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    env["REFERKIT_TEST_WHATEVER"] = "1"
    create_key(env)


@pytest.mark.skipif(not PG_URL, reason="REFERKIT_TEST_DATABASE_URL is not set")
def test_serve_refuses_an_unmigrated_postgres(tmp_path: Path) -> None:
    assert PG_URL is not None
    with throwaway_postgres(PG_URL) as url:
        env = cli_env(tmp_path, database_url=url)
        result = run_cli("serve", "--port", str(free_port()), env=env)
        assert result.returncode == 1
        assert "referkit db upgrade" in result.stderr


def banner_value(stdout: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s{{2,}}(\S+)", stdout, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{stdout}"
    return match.group(1)


def curl_line(stdout: str) -> list[str]:
    lines = [line for line in stdout.splitlines() if line.startswith("Try: curl ")]
    assert len(lines) == 1, stdout
    return shlex.split(lines[0].removeprefix("Try: "))


def get_demo(base_url: str, secret: str) -> tuple[Json, list[Json], list[Json]]:
    with httpx.Client(base_url=base_url, headers=bearer(secret), timeout=10) as http:
        programs = http.get("/api/v1/programs")
        assert programs.status_code == 200, programs.text
        demo = [p for p in programs.json()["data"] if p["slug"] == DEMO_SLUG]
        assert len(demo) == 1, programs.json()
        members = http.get(f"/api/v1/programs/{demo[0]['id']}/members")
        assert members.status_code == 200, members.text
        referrals = http.get("/api/v1/referrals", params={"program_id": demo[0]["id"]})
        assert referrals.status_code == 200, referrals.text
    return demo[0], members.json()["data"], referrals.json()["data"]


def test_serve_demo(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = cli_env(data_dir)
    port = free_port()
    with serve(env, tmp_path / "logs", "--demo", port=port) as server:
        base = f"http://127.0.0.1:{port}"
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200
        assert ready.json()["revision"] == HEAD
        assert ready.json()["database"] == "sqlite"

        out = server.stdout
        assert banner_value(out, "API") == f"{base}/api/v1"
        assert banner_value(out, "Docs") == f"{base}/api/v1/docs"
        secret = banner_value(out, "API key")
        assert secret.startswith("rk_live_")
        assert banner_value(out, "Public key").startswith("pk_live_")

        # The curl line is one unwrapped line that works as printed.
        curl = curl_line(out)
        assert curl[:2] == ["curl", "-H"]
        assert curl[2] == f"Authorization: Bearer {secret}"
        assert curl[3] == f"{base}/api/v1/programs"
        name, _, value = curl[2].partition(": ")
        assert httpx.get(curl[3], headers={name: value}, timeout=10).status_code == 200

        program, members, referrals = get_demo(base, secret)
        assert program["status"] == "active"
        assert len(members) == 3
        for member in members:
            assert member["referral_link"] == f"{base}/r/{member['referral_code']}"
        assert sorted(r["status"] for r in referrals) == [
            "approved",
            "denied",
            "pending",
            "pending",
            "qualified",
            "qualified",
        ]
        assert {r["member_id"] for r in referrals} == {m["id"] for m in members}
    server.assert_stopped_cleanly()

    # Again on the same data dir, with a public base URL: no second demo, the same key.
    env["REFERKIT_BASE_URL"] = "https://refer.example.com"
    with serve(env, tmp_path / "logs", "--demo") as again:
        out = again.stdout
        assert banner_value(out, "API") == "https://refer.example.com/api/v1"
        assert banner_value(out, "API key") == secret
        assert curl_line(out)[3] == "https://refer.example.com/api/v1/programs"

        again_program, again_members, again_referrals = get_demo(again.base_url, secret)
        assert again_program["id"] == program["id"]
        assert {m["id"] for m in again_members} == {m["id"] for m in members}
        assert len(again_referrals) == len(referrals)
        for member in again_members:
            assert member["referral_link"].startswith("https://refer.example.com/r/")
        # Regenerated through the API, the demo key is replaced on the next run.
        regenerated = httpx.post(
            f"{again.base_url}/api/v1/keys/{key_id_of(again.base_url, secret)}/regenerate",
            headers=bearer(secret),
            timeout=10,
        )
        assert regenerated.status_code == 200, regenerated.text
        newest = regenerated.json()["secret"]
    again.assert_stopped_cleanly()

    with serve(env, tmp_path / "logs", "--demo") as third:
        fresh = banner_value(third.stdout, "API key")
        assert fresh not in (secret, newest)
        workspace = httpx.get(f"{third.base_url}/api/v1/workspace", headers=bearer(fresh))
        assert workspace.status_code == 200
        # Exactly one demo key works: the regenerated secret was revoked with its key.
        stale = httpx.get(f"{third.base_url}/api/v1/workspace", headers=bearer(newest))
        assert stale.status_code == 401
    third.assert_stopped_cleanly()
    assert oct((data_dir / "demo-key.json").stat().st_mode & 0o777) == "0o600"


def key_id_of(base_url: str, secret: str) -> str:
    keys = httpx.get(f"{base_url}/api/v1/keys", headers=bearer(secret), timeout=10).json()["data"]
    return next(k["id"] for k in keys if k["name"] == "Demo key")
