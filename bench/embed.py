"""The embedded dashboard under load: ``GET /api/v1/embed/me`` (token as Bearer) and the page
``GET /embed/referrer?token=…`` against a floor app measured in the same run on the same
database (``bench/embed_floor_app.py``: FastAPI and the same engine doing one indexed read).
Target: each ≥ 0.7 of the floor. Runs on SQLite and, with ``BENCH_PG_URL``, PostgreSQL.

    .venv/bin/python -m bench.embed
    BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.embed

The member has a few referrals (one qualified, with a reward) so every part of the page has
something to show. The per-token limit is raised out of the way (one token, one load generator).
Both servers run at once and the three targets take turns (floor, embed/me, page, floor, …), so
a change in the shared machine's load falls on all three alike; each figure is the median of
its ``REPETITIONS`` runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx

from bench.common import cli, in_turns, postgres, referkit_env, seed, server

CONNECTIONS = 16
APP = ["referkit.app:create_app", "--factory"]
RULES = [
    {
        "recipient": "referrer",
        "trigger": "referral_qualified",
        "kind": "cash",
        "amount": 2000,
        "currency": "USD",
    },
    {
        "recipient": "referrer",
        "trigger": "milestone",
        "milestone_count": 5,
        "kind": "cash",
        "amount": 5000,
        "currency": "USD",
    },
]


def _prepare(base: str, rows: dict[str, str]) -> str:
    """Referrals for the member (one qualified), and a day-long embed token."""
    with httpx.Client(
        base_url=f"{base}/api/v1",
        headers={"Authorization": f"Bearer {rows['secret']}"},
        timeout=30,
    ) as http:
        http.patch(
            f"/programs/{rows['program_id']}", json={"reward_rules": RULES}
        ).raise_for_status()
        for n in range(5):
            referral = http.post(
                "/referrals",
                json={"referral_code": rows["code"], "referee": {"email": f"f{n}@example.com"}},
            ).raise_for_status()
            if n == 0:
                http.patch(
                    f"/referrals/{referral.json()['id']}", json={"status": "qualified"}
                ).raise_for_status()
        answer = http.post(
            f"/members/{rows['member_id']}/embed-token", json={"expires_in_seconds": 86_400}
        ).raise_for_status()
    token: str = answer.json()["token"]
    return token


def _auth_script(directory: Path, token: str) -> str:
    path = directory / "embed-auth.lua"
    path.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    return str(path)


def run(env: dict[str, str], url: str, label: str, work: Path) -> None:
    cli(env, "db", "upgrade")
    env = {**env, "REFERKIT_EMBED_RATE_LIMIT_PER_MINUTE": "10000000"}
    floor_env = {**os.environ, "BENCH_FLOOR_URL": url}
    with server(APP, env) as base, server(["bench.embed_floor_app:app"], floor_env) as floor_base:
        rows = seed(base, env)
        token = _prepare(base, rows)
        results = in_turns(
            {
                "floor": (f"{floor_base}/floor/{rows['member_id']}", None),
                "me": (f"{base}/api/v1/embed/me", _auth_script(work, token)),
                "page": (f"{base}/embed/referrer?token={token}", None),
            },
            CONNECTIONS,
        )
    floor, me, page = results["floor"], results["me"], results["page"]
    for name, result in (("floor (one read)", floor), ("embed/me", me), ("embed page", page)):
        print(
            f"[{label}] {name:18s} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
            f"p99 {result.p99_ms:6.2f} ms  non-2xx {result.non_2xx_3xx}"
        )
    print(f"RATIO [{label}] embed/me / floor    {me.rps / floor.rps:.3f} (≥ 0.7)")
    print(f"RATIO [{label}] embed page / floor  {page.rps / floor.rps:.3f} (≥ 0.7)")


def main() -> None:
    if os.environ.get("BENCH_SKIP_SQLITE") != "1":
        with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
            data = Path(tmp)
            run(referkit_env(data), f"sqlite+aiosqlite:///{data / 'referkit.db'}", "sqlite", data)
    pg = os.environ.get("BENCH_PG_URL")
    if pg:
        with postgres(pg) as url, tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
            run(referkit_env(Path(tmp), database_url=url), url, "postgresql", Path(tmp))


if __name__ == "__main__":
    main()
