"""``referkit users create|invite`` as real processes, and the demo user of ``serve --demo``."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from referkit.app import create_app
from referkit.cli.demo import DEMO_EMAIL, seed_demo
from referkit.config import Settings
from tests.dashboard.helpers import csrf_of
from tests.processes import cli_env, run_cli


async def _signs_in(settings: Settings, email: str, password: str) -> bool:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            page = await http.get("/dashboard/login")
            response = await http.post(
                "/dashboard/login",
                data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
            )
            return response.status_code == 303


async def test_users_create_prints_a_password_once(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    made = run_cli("users", "create", "--email", "Ana@Example.com", "--workspace", "Acme", env=env)
    assert made.returncode == 0, made.stderr
    password = re.search(r"^Password\s+(\S+)\s+\(shown only now\)$", made.stdout, re.MULTILINE)
    assert password, made.stdout
    again = run_cli("users", "create", "--email", "ana@example.com", "--workspace", "Beta", env=env)
    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stdout
    assert password.group(1) not in again.stdout
    settings = Settings(data_dir=tmp_path, secret_key="k" * 40)
    assert await _signs_in(settings, "ana@example.com", password.group(1))


async def test_users_invite_prints_a_link(tmp_path: Path) -> None:
    env = cli_env(tmp_path, base_url="https://referkit.example.com")
    made = run_cli("users", "invite", "--workspace", "Acme", "--role", "viewer", env=env)
    assert made.returncode == 0, made.stderr
    assert re.fullmatch(
        r"https://referkit\.example\.com/dashboard/invite/[A-Za-z0-9_-]+\n", made.stdout
    )


async def test_demo_user_keeps_its_password_across_runs(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = await seed_demo(settings)
    second = await seed_demo(settings)
    assert first["dashboard_email"] == DEMO_EMAIL
    assert first["dashboard_password"] == second["dashboard_password"]
    assert await _signs_in(settings, DEMO_EMAIL, second["dashboard_password"])


async def test_scripts_send_the_token_as_a_header(browser: httpx.AsyncClient) -> None:
    token = csrf_of((await browser.get("/dashboard")).text)
    response = await browser.post(
        "/dashboard/switch", data={"mode": "test"}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 303
