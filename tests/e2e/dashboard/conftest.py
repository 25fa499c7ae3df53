"""A real ``referkit serve --demo`` (SQLite in a temp data dir, or a throwaway PostgreSQL
database) and Debian's Chromium driven by Playwright.

The server listens on ``REFERKIT_TEST_DASHBOARD_PORT`` (8151 by default; plus 50 per
pytest-xdist worker). Screenshots go to ``REFERKIT_TEST_SCREENSHOTS`` when it is set
(``docs/images/dashboard`` regenerates the pictures of docs/dashboard.md), else to a temporary
directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import postgres_database
from tests.processes import PG_URL, cli_env, run_cli, serve, worker_port

PORT = worker_port(int(os.environ.get("REFERKIT_TEST_DASHBOARD_PORT", "8151")))


@dataclass(frozen=True)
class Demo:
    base_url: str
    email: str
    password: str
    api_key: str
    env: dict[str, str]


def _line(stdout: str, label: str) -> str:
    found = re.search(rf"^\s*{label}\s+(\S+)\s*$", stdout, re.MULTILINE)
    assert found, f"no {label!r} line in:\n{stdout}"
    return found.group(1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    """``referkit serve --demo`` on the e2e port, with its printed sign-in and API key."""
    data_dir = tmp_path_factory.mktemp("e2e-data")
    settings = {"base_url": f"http://127.0.0.1:{PORT}", "webhook_allow_private_targets": "true"}
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("REFERKIT_TEST_DATABASE_URL is not set")
        with postgres_database() as url:
            env = cli_env(data_dir, database_url=url, **settings)
            upgraded = run_cli("db", "upgrade", env=env)
            assert upgraded.returncode == 0, upgraded.stderr
            yield from _served(env, data_dir)
        return
    yield from _served(cli_env(data_dir, **settings), data_dir)


def _served(env: dict[str, str], data_dir: Path) -> Iterator[Demo]:
    with serve(env, data_dir / "logs", "--demo", port=PORT) as server:
        stdout = server.stdout
        yield Demo(
            base_url=server.base_url,
            email=_line(stdout, "email"),
            password=_line(stdout, "password"),
            api_key=_line(stdout, "API key"),
            env=env,
        )


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("REFERKIT_TEST_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


SERIOUS = {"serious", "critical"}
PERSON_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
_axe = Axe()


def check_accessibility(page: Page) -> None:
    results = _axe.run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    assert not serious, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in serious
    )


def sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/dashboard/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


@pytest.fixture
def page(browser: Browser, demo: Demo) -> Iterator[Page]:
    context = browser.new_context(base_url=demo.base_url)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(tab, demo.base_url, demo.email, demo.password)
    yield tab
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
