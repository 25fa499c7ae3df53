"""What every browser test shares: the Playwright driver and Debian's Chromium, and throwaway
PostgreSQL databases made off the main thread.

Playwright's sync API runs an event loop in the main thread while it is started, and allows one
driver per thread. So the driver is one fixture for every browser test (the embed and dashboard
suites must not each start their own while the other's runs), scoped to the module: once a
module's browser tests are done the main thread is free again for the asyncio tests that follow,
and ``asyncio.run`` (which a running loop refuses) runs in a thread of its own meanwhile."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.processes import PG_URL, throwaway_postgres

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@contextmanager
def postgres_database() -> Iterator[str]:
    """``throwaway_postgres``, entered and left in a thread of its own."""
    assert PG_URL is not None
    manager = throwaway_postgres(PG_URL)
    with ThreadPoolExecutor(max_workers=1) as thread:
        url = thread.submit(manager.__enter__).result()
        try:
            yield url
        finally:
            thread.submit(manager.__exit__, None, None, None).result()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's Chromium at /usr/bin/chromium")
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield chromium
    chromium.close()
