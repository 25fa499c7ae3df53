"""The Swagger page, opened in Chromium from a real-looking domain, asks no other host for
anything: its scripts, styles and the document are served locally, and Swagger UI's
``validatorUrl`` (a public validator that would be sent the document's URL) is null
(``tests/test_openapi.py`` checks the setting itself).

The server runs on 127.0.0.1; Chromium resolves ``docs.referkit.example`` to it. Every request
to another host is recorded and aborted, so the test itself never leaves the machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.processes import cli_env, serve

DOMAIN = "docs.referkit.example"
PORT = int(os.environ.get("REFERKIT_TEST_DOCS_PORT", "0")) or None  # a free port by default


def test_swagger_page_requests_nothing_from_another_host(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's Chromium at /usr/bin/chromium")
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    env = cli_env(tmp_path / "data", worker_in_process="false")
    with serve(env, tmp_path / "logs", port=PORT) as server:
        port = urlsplit(server.base_url).port
        origin = f"http://{DOMAIN}:{port}"
        own: list[str] = []
        elsewhere: list[str] = []

        def route(route: Route) -> None:
            url = route.request.url
            if urlsplit(url).netloc == f"{DOMAIN}:{port}":
                own.append(url)
                route.continue_()
            else:
                elsewhere.append(url)
                route.abort()

        args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {DOMAIN} 127.0.0.1"]
        with sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path=str(CHROMIUM), args=args, headless=True
            )
            try:
                page = browser.new_page()
                page.route("**/*", route)
                page.goto(f"{origin}/api/v1/docs")
                # The document loaded and rendered: its operations are on the page.
                page.wait_for_selector(".opblock-summary", timeout=20_000)
                page.wait_for_load_state("networkidle")
            finally:
                browser.close()
    assert elsewhere == []
    assert f"{origin}/openapi.json" in own
