"""``referkit export`` from a SQLite installation, ``referkit import`` into an empty database
(PostgreSQL when ``REFERKIT_TEST_DATABASE_URL`` is set): every object and the stats come back
the same, ids included; a second import changes nothing; ``--dry-run`` stores nothing. Also
the Referral Rock / Referral Factory CSV importers. The CLI runs as real processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from referkit.app import create_app
from referkit.config import Settings
from referkit.db import migrate
from tests.factories import Key, create_member, create_program, create_referral, new_key
from tests.processes import PG_URL, cli_env, run_cli, throwaway_postgres

SECRET = "transfer-test-secret-" + "x" * 32
BASE = "http://testserver"
RULES = [
    {
        "recipient": "referrer",
        "trigger": "referral_qualified",
        "kind": "cash",
        "amount": 2000,
        "currency": "USD",
        "description": "$20",
    }
]
LISTS = ("programs", "referrals", "rewards", "links", "webhooks")


def _settings(url: str, data: Path) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data,
        base_url=BASE,
        secret_key=SECRET,
        worker_in_process=False,
        webhook_allow_private_targets=True,
    )


@contextmanager
def _target(tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        with throwaway_postgres(PG_URL) as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'target.db'}"


async def _snapshot(settings: Settings, key: Key | None, workspace: str) -> dict[str, Any]:
    """Everything the API shows of the workspace (with a key made there if none is given)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        key = key or await new_key(app, workspace=workspace)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            out: dict[str, Any] = {}
            for name in LISTS:
                response = await client.get(f"/api/v1/{name}?limit=100", headers=key.headers)
                assert response.status_code == 200, response.text
                out[name] = response.json()["data"]
            for program in out["programs"]:
                pid = program["id"]
                members = await client.get(f"/api/v1/programs/{pid}/members", headers=key.headers)
                out[f"members:{pid}"] = members.json()["data"]
                stats = await client.get(f"/api/v1/programs/{pid}/stats", headers=key.headers)
                out[f"stats:{pid}"] = stats.json()
            return out


async def _seed(settings: Settings, workspace: str) -> dict[str, Any]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        key = await new_key(app, workspace=workspace)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            program = await create_program(client, key, reward_rules=RULES)
            member = await create_member(client, key, program["id"])
            await create_member(client, key, program["id"])
            browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}
            click = await client.get(f"/r/{member['referral_code']}", headers=browser)
            assert click.status_code == 302
            referral = await create_referral(client, key, member["referral_code"])
            approved = await client.patch(
                f"/api/v1/referrals/{referral['id']}",
                json={"status": "approved"},
                headers=key.headers,
            )
            assert approved.status_code == 200, approved.text
            hook = await client.post(
                "/api/v1/webhooks", json={"url": "https://example.com/hook"}, headers=key.headers
            )
            assert hook.status_code == 201
    return await _snapshot(settings, key, workspace)


def _without_secrets(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k != "webhooks"} | {
        "webhooks": [{**w, "updated_at": None} for w in snapshot["webhooks"]]
    }


def _table(output: str) -> dict[str, tuple[int, int]]:
    """The summary table the import prints: table → (read, inserted)."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[1].isdigit():
            rows[cells[0]] = (int(cells[1]), int(cells[2]))
    return rows


def test_export_then_import_reproduces_the_workspace(tmp_path: Path) -> None:
    source_url = f"sqlite+aiosqlite:///{tmp_path / 'source.db'}"
    asyncio.run(migrate.upgrade(source_url))
    before = asyncio.run(_seed(_settings(source_url, tmp_path), "Acme"))
    export_file = tmp_path / "acme.jsonl"
    exported = run_cli(
        "export",
        "--workspace",
        "Acme",
        str(export_file),
        env=cli_env(tmp_path / "src", database_url=source_url, secret_key=SECRET),
    )
    assert exported.returncode == 0, exported.stderr
    lines = export_file.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "referkit-export"
    assert "whsec_" not in export_file.read_text()  # secrets stay behind

    with _target(tmp_path) as target_url:
        env = cli_env(tmp_path / "dst", database_url=target_url, secret_key=SECRET)
        assert run_cli("db", "upgrade", env=env).returncode == 0
        dry = run_cli("import", "--dry-run", str(export_file), env=env)
        assert dry.returncode == 0, dry.stderr
        assert "Dry run" in dry.stderr
        first = run_cli("import", str(export_file), env=env)
        assert first.returncode == 0, first.stderr
        second = run_cli("import", str(export_file), env=env)
        assert second.returncode == 0, second.stderr
        # The second import read every row and inserted none.
        counts = _table(second.stderr)
        assert counts["members"] == (2, 0)
        assert all(inserted == 0 for _, inserted in counts.values()), counts
        assert _table(first.stderr)["rollups"][1] > 0
        after = asyncio.run(_snapshot(_settings(target_url, tmp_path / "dst"), None, "Acme"))
    assert _without_secrets(after) == _without_secrets(before)
    stats = [v["totals"] for k, v in after.items() if k.startswith("stats:")]
    assert [(s["clicks"], s["referrals"], s["qualified_referrals"]) for s in stats] == [(1, 1, 1)]


def test_import_from_referral_rock_and_referral_factory_csv(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'csv.db'}"
    asyncio.run(migrate.upgrade(url))
    settings = _settings(url, tmp_path)

    async def program() -> tuple[str, Key]:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            key = await new_key(app, workspace="Imports")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                return (await create_program(client, key))["id"], key

    program_id, key = asyncio.run(program())
    rock = tmp_path / "rock.csv"
    rock.write_text(
        "First Name,Last Name,Email,Referral Code,Referring Member Referral Code,Status\n"
        "Jane,Doe,jane@example.com,JANE2026,,\n"
        "Sam,Lee,sam@example.com,,JANE2026,approved\n"
        "Bad,Row,not-an-email,,,\n"
    )
    factory = tmp_path / "factory.csv"
    factory.write_text(
        "first_name,email,code,referrer_email,type,qualified\n"
        "Ann,ann@example.com,ANN-1,,person_referring,\n"
        "Bo,bo@example.com,,ann@example.com,person_invited,true\n"
    )
    env = cli_env(tmp_path / "cli", database_url=url, secret_key=SECRET)
    common = ("--workspace", "Imports", "--program", program_id)
    for source, path in (("referral-rock", rock), ("referral-factory", factory)):
        result = run_cli("import", "--from", source, str(path), *common, env=env)
        assert result.returncode == 0, result.stderr
        again = run_cli("import", "--from", source, str(path), *common, env=env)
        assert again.returncode == 0, again.stderr
    snapshot = asyncio.run(_snapshot(settings, key, "Imports"))
    members = {m["email"]: m for m in snapshot[f"members:{program_id}"]}
    assert set(members) == {"jane@example.com", "ann@example.com"}
    assert members["jane@example.com"]["referral_code"] == "JANE2026"
    statuses = {r["referee"]["email"]: r["status"] for r in snapshot["referrals"]}
    assert statuses == {"sam@example.com": "approved", "bo@example.com": "qualified"}


@pytest.mark.parametrize("content", ["not json\n", '{"format": "other", "version": 1}\n'])
def test_a_file_that_is_not_an_export_is_refused(tmp_path: Path, content: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    result = run_cli(
        "import", str(path), env=cli_env(tmp_path, database_url=url, secret_key=SECRET)
    )
    assert result.returncode == 1
