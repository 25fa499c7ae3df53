"""The everyday authenticated API path under load, against its floor measured in the same run.

    .venv/bin/python -m bench.api
    BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.api

Requests (one API key, full scope, rate limits off so one load generator is never refused):

- ``GET /api/v1/programs/{id}``;
- ``POST /api/v1/programs/{id}/members`` for a member that exists (create-or-fetch: 200);
- ``GET /api/v1/referrals?member_id=…&limit=10`` (the member has five referrals);
- ``GET /api/v1/members/{id}/stats``;
- ``GET /healthz``;
- the dashboard pair: create-or-fetch the member, then list their referrals, in turns on each
  connection (what a referrer dashboard asks on every page view).

The floor (``bench/embed_floor_app.py``, ``GET /floor/programs/{id}``) is FastAPI on the same
uvicorn flags and database driver that looks the Bearer secret's hash up by index and reads
one program by id (``engine.connect()`` per request, default pool). Both servers run at once,
pinned to the same core, and all targets take turns (``bench.common.in_turns``); each figure is
the median of ``REPETITIONS`` runs, and each ratio is Referkit's req/s over the floor's.
Targets: reads ≥ 0.8 of the floor, create-or-fetch ≥ 0.7.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx

from bench.common import cli, in_turns, postgres, referkit_env, seed, server

CONNECTIONS = 16
APP = ["referkit.app:create_app", "--factory"]
TARGETS = {
    "program": 0.8,
    "create-or-fetch": 0.7,
    "referrals": 0.8,
    "member stats": 0.8,
    "healthz": 0.8,
    "dashboard pair": 0.7,
}


def _referrals(base: str, rows: dict[str, str]) -> None:
    with httpx.Client(
        base_url=f"{base}/api/v1",
        headers={"Authorization": f"Bearer {rows['secret']}"},
        timeout=30,
    ) as http:
        for n in range(5):
            http.post(
                "/referrals",
                json={"referral_code": rows["code"], "referee": {"email": f"f{n}@example.com"}},
            ).raise_for_status()


def _script(directory: Path, name: str, secret: str, body: str = "") -> str:
    path = directory / f"api-{name}.lua"
    path.write_text(f'wrk.headers["Authorization"] = "Bearer {secret}"\n{body}')
    return str(path)


def _create_or_fetch(rows: dict[str, str]) -> str:
    return (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.body = \'{"email": "bench@example.com"}\'\n'
    )


def _pair(rows: dict[str, str]) -> str:
    """Create-or-fetch, then the member's referrals, alternately on each connection."""
    return (
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        "  if n % 2 == 1 then\n"
        '    return wrk.format("POST", '
        f'"/api/v1/programs/{rows["program_id"]}/members", '
        '{["Content-Type"] = "application/json", ["Authorization"] = '
        'wrk.headers["Authorization"]}, \'{"email": "bench@example.com"}\')\n'
        "  end\n"
        f'  return wrk.format("GET", "/api/v1/referrals?member_id={rows["member_id"]}&limit=10")\n'
        "end\n"
    )


def run(env: dict[str, str], url: str, label: str, work: Path) -> dict[str, float]:
    cli(env, "db", "upgrade")
    env = {**env, "REFERKIT_RATE_LIMIT_ENABLED": "false"}
    floor_env = {**os.environ, "BENCH_FLOOR_URL": url}
    with server(APP, env) as base, server(["bench.embed_floor_app:app"], floor_env) as floor_base:
        rows = seed(base, env)
        _referrals(base, rows)
        secret, program, member = rows["secret"], rows["program_id"], rows["member_id"]
        plain = _script(work, "plain", secret)
        targets = {
            "floor": (f"{floor_base}/floor/programs/{program}", plain),
            "program": (f"{base}/api/v1/programs/{program}", plain),
            "create-or-fetch": (
                f"{base}/api/v1/programs/{program}/members",
                _script(work, "member", secret, _create_or_fetch(rows)),
            ),
            "referrals": (f"{base}/api/v1/referrals?member_id={member}&limit=10", plain),
            "member stats": (f"{base}/api/v1/members/{member}/stats", plain),
            "healthz": (f"{base}/healthz", None),
            "dashboard pair": (f"{base}/", _script(work, "pair", secret, _pair(rows))),
        }
        only = os.environ.get("BENCH_API_ONLY")  # e.g. "program,referrals" while profiling
        if only:
            targets = {k: v for k, v in targets.items() if k == "floor" or k in only.split(",")}
        results = in_turns(targets, CONNECTIONS)
    floor = results["floor"]
    ratios = {}
    for name, result in results.items():
        print(
            f"[{label}] {name:16s} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
            f"p99 {result.p99_ms:6.2f} ms  non-2xx {result.non_2xx_3xx}"
        )
    for name, target in TARGETS.items():
        if name not in results:
            continue
        ratios[name] = results[name].rps / floor.rps
        verdict = "met" if ratios[name] >= target else "NOT met"
        print(f"RATIO [{label}] {name:16s} {ratios[name]:.3f} (≥ {target}: {verdict})")
    return ratios


def main() -> None:
    print("load before:", os.getloadavg())
    if os.environ.get("BENCH_SKIP_SQLITE") != "1":
        with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
            data = Path(tmp)
            run(referkit_env(data), f"sqlite+aiosqlite:///{data / 'referkit.db'}", "sqlite", data)
    pg = os.environ.get("BENCH_PG_URL")
    if pg:
        with postgres(pg) as url, tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
            run(referkit_env(Path(tmp), database_url=url), url, "postgresql", Path(tmp))
    print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
