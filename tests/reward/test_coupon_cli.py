"""``referkit coupons upload`` loads a CSV into a pool that rewards then draw from."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.processes import cli_env, run_cli, serve


def test_upload_csv_with_progress(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    created = run_cli("keys", "create", "--workspace", "Coupons", "--json", env=env)
    assert created.returncode == 0, created.stderr
    auth = {"Authorization": f"Bearer {json.loads(created.stdout)['secret']}"}
    with serve(env, tmp_path / "logs") as server:
        program = httpx.post(
            f"{server.base_url}/api/v1/programs",
            headers=auth,
            json={"name": "Coupons", "landing_url": "https://example.com/"},
        ).json()
    csv_file = tmp_path / "codes.csv"
    csv_file.write_text("code\n" + "\n".join(f"SPRING-{n}" for n in range(2500)) + "\nSPRING-7\n")
    result = run_cli(
        "coupons",
        "upload",
        str(csv_file),
        "--program",
        program["id"],
        "--pool",
        "SPRING",
        "--workspace",
        "Coupons",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "added 2500, skipped 1 duplicates; 2500 codes free in SPRING" in result.stdout
    assert "2501/2501" in result.stderr  # the progress bar reached the end
    again = run_cli(
        "coupons",
        "upload",
        str(csv_file),
        "--program",
        program["id"],
        "--pool",
        "SPRING",
        "--workspace",
        "Coupons",
        env=env,
    )
    assert "added 0, skipped 2501 duplicates" in again.stdout
    with serve(env, tmp_path / "logs") as server:
        pools = httpx.get(
            f"{server.base_url}/api/v1/programs/{program['id']}/coupon-pools", headers=auth
        ).json()
    assert pools == {"data": [{"pool": "SPRING", "total": 2500, "available": 2500, "waiting": 0}]}


def test_unknown_program(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    csv_file = tmp_path / "codes.csv"
    csv_file.write_text("A1\nA2\n")
    result = run_cli(
        "coupons",
        "upload",
        str(csv_file),
        "--program",
        "prog_01jd9x4k6b8v2q3r5s7t9w1y3z",
        "--pool",
        "X",
        env=env,
    )
    assert result.returncode == 1
    assert "No program" in result.stderr
