"""The mobile half of the dashboard in a real browser against a real server: register an app,
make an app link with a deep link, send an install through the API and see it on the app
page; set up an integration and run its dry run; save a SKAN schema with an error, then a
valid one. Every new page is axe-checked and screenshotted for docs/dashboard.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.dashboard.conftest import Demo, check_accessibility

IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
SCHEMA = {
    "currency": "USD",
    "fine": [
        {"value": 0, "event": "install"},
        {"value": 10, "event": "purchase", "revenue": {"min": 0, "max": 1000}},
        {"value": 20, "event": "purchase", "revenue": {"min": 1000}},
    ],
    "coarse": {
        "window_1": [{"value": "low", "event": "install"}, {"value": "high", "event": "purchase"}],
        "window_2": [{"value": "medium", "event": "purchase"}],
        "window_3": [],
    },
    "locks": [{"window": 1, "event": "purchase", "min_count": 2}],
}


def _shot(page: Page, screenshots: Path, name: str) -> None:
    check_accessibility(page)
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def _new_app(page: Page, screenshots: Path, name: str) -> str:
    page.goto("/dashboard/apps")
    page.get_by_role("link", name=re.compile("Register an app|New app")).click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Bundle id").fill("com.example.shop")
    page.get_by_label("App Store id").fill("1234567890")
    page.get_by_label("Apple Team ID").fill("ABCDE12345")
    page.get_by_label("App Store URL").fill("https://apps.apple.com/app/id1234567890")
    page.get_by_label("Package name").fill("com.example.shop")
    page.get_by_label("Google Play URL").fill(
        "https://play.google.com/store/apps/details?id=com.example.shop"
    )
    page.get_by_label("Web URL (other devices)").fill("https://example.com/shop")
    page.get_by_label("Deep link scheme").fill("shop")
    page.get_by_label(re.compile("Probabilistic window")).fill("12")
    _shot(page, screenshots, "app-new")
    # Pressed, not clicked: a click right after a full-page screenshot can miss in Chromium.
    page.get_by_role("button", name="Create app").press("Enter")
    expect(page.get_by_role("status")).to_contain_text("App created")
    return page.url.rsplit("/", 1)[-1]


def test_app_link_install_on_the_app_page(page: Page, demo: Demo, screenshots: Path) -> None:
    app_id = _new_app(page, screenshots, "Browser shop")
    page.get_by_label("Code (empty: generated)").fill("SHOPDEMO")
    page.get_by_label("Deep link path (the screen to open)").fill("/product/42")
    page.get_by_label("Deep link parameters (key=value, one per line)").fill("coupon=SPRING")
    page.get_by_label("Network", exact=True).fill("influencer")
    page.get_by_label("Campaign", exact=True).fill("spring")
    page.get_by_role("button", name="Create app link").click()
    expect(page.get_by_role("status")).to_contain_text("App link SHOPDEMO created")
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("/product/42 coupon=SPRING")
    check_accessibility(page)

    # A tap on the link from an iPhone (the store is elsewhere: the redirect is not followed),
    # then the app's first open sends the install with the click id, as the SDKs do.
    with httpx.Client(base_url=demo.base_url, timeout=10) as http:
        hop = http.get("/r/SHOPDEMO", headers={"User-Agent": IPHONE_UA})
        assert hop.status_code in (302, 303, 307), hop.text
        click = re.search(r"rk_click(?:=|%3D)(clk_[A-Za-z0-9]+)", hop.headers["location"])
        assert click, hop.headers["location"]
        install = http.post(
            f"/api/v1/apps/{app_id}/installs",
            json={"device": {"os": "ios", "idfv": "e2e-device-1"}, "click_id": click.group(1)},
            headers={"Authorization": f"Bearer {demo.api_key}"},
        )
        assert install.status_code == 201, install.text
    install_id = install.json()["install_id"]
    page.goto(f"/dashboard/apps/{app_id}?days=7")
    row = page.locator("#installs + table tbody tr").first
    expect(row).to_contain_text(install_id)
    expect(row.locator(".badge").first).to_have_text("click_id")
    expect(page.locator(".card").nth(1).locator(".kpi")).to_have_text("1")  # Installs
    _shot(page, screenshots, "app")
    page.get_by_role("button", name="Create client key").press("Enter")
    expect(page.locator("#new-client-key")).to_contain_text("pk_app_")
    page.goto("/dashboard/apps")
    expect(page.get_by_role("link", name="Browser shop")).to_be_visible()
    _shot(page, screenshots, "apps-list")


def test_integration_dry_run_and_log(page: Page, demo: Demo, screenshots: Path) -> None:
    app_id = _new_app(page, screenshots, "Forwarding shop")
    with httpx.Client(base_url=demo.base_url, timeout=10) as http:
        install = http.post(
            f"/api/v1/apps/{app_id}/installs",
            json={"device": {"os": "ios", "idfv": "e2e-device-2"}},
            headers={"Authorization": f"Bearer {demo.api_key}"},
        )
        assert install.status_code == 201, install.text
    page.goto(f"/dashboard/apps/{app_id}/integrations")
    meta = page.locator("section#meta")
    meta.get_by_label("Enabled").check()
    meta.get_by_label("dataset_id").fill("998877")
    meta.get_by_label("access_token (write-only)").fill("EAAB-e2e-secret")
    meta.get_by_label("Event map (ours=theirs, one per line)").fill("install=MobileAppInstall")
    meta.get_by_role("button", name="Save Meta (Conversions API)").click()
    expect(page.get_by_role("status")).to_contain_text("Meta (Conversions API) saved")
    expect(page.locator("section#meta")).to_contain_text("Stored (hidden)")
    assert "EAAB-e2e-secret" not in page.content()
    page.locator("section#meta").get_by_role("button", name="Dry run").click()
    dry = page.locator("section#meta .dry-request")
    expect(dry).to_contain_text("/998877/events")
    expect(dry).to_contain_text("MobileAppInstall")
    assert "EAAB-e2e-secret" not in page.content()
    _shot(page, screenshots, "app-integrations")
    page.locator("section#meta").get_by_role("link", name="Forwarding log").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("log")
    _shot(page, screenshots, "app-integration-log")


def test_skan_schema_error_then_valid(page: Page, screenshots: Path) -> None:
    app_id = _new_app(page, screenshots, "SKAN shop")
    page.goto(f"/dashboard/apps/{app_id}/skan")
    expect(page.get_by_text("No schema yet")).to_be_visible()
    check_accessibility(page)
    overlapping = {**SCHEMA, "fine": [*SCHEMA["fine"], {"value": 30, "event": "install"}]}
    editor = page.get_by_label(re.compile(r"Schema \(JSON"))
    editor.fill(json.dumps(overlapping, indent=2))
    page.get_by_role("button", name="Save schema").click()
    alert = page.locator(".rule-errors")
    expect(alert).to_contain_text("fine[3]")
    _shot(page, screenshots, "app-skan-error")
    page.get_by_label(re.compile(r"Schema \(JSON")).fill(json.dumps(SCHEMA, indent=2))
    page.get_by_role("button", name="Save schema").press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Schema version 1 saved")
    expect(page.locator("table").first).to_contain_text("purchase at least 1 time")
    _shot(page, screenshots, "app-skan")
