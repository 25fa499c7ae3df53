"""The dashboard in a real browser against a real server: sign in with the demo user, walk
every page (each axe-checked, each screenshotted), run the referral flow from the dashboard
alone, handle API keys, and check that a viewer and a forged form are refused."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.dashboard.conftest import PERSON_UA, Demo, check_accessibility, sign_in
from tests.processes import run_cli

PAGES = [
    ("overview", "/dashboard"),
    ("programs", "/dashboard/programs"),
    ("program-new", "/dashboard/programs/new"),
    ("members", "/dashboard/members"),
    ("referrals", "/dashboard/referrals"),
    ("rewards", "/dashboard/rewards"),
    ("links", "/dashboard/links"),
    ("apps", "/dashboard/apps"),
    ("webhooks", "/dashboard/webhooks"),
    ("api", "/dashboard/api"),
    ("settings", "/dashboard/settings"),
]


def test_every_page_renders_and_is_accessible(page: Page, screenshots: Path) -> None:
    check_accessibility(page)
    for name, path in PAGES:
        response = page.goto(path)
        assert response is not None
        assert response.status == 200, path
        assert "default-src 'none'" in response.headers["content-security-policy"]
        check_accessibility(page)
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    page.goto("/dashboard/referrals")
    page.get_by_role("link", name="Rosalind Franklin").click()
    expect(page.get_by_role("heading", name="Why it was attributed")).to_be_visible()
    check_accessibility(page)
    page.screenshot(path=str(screenshots / "referral.png"), full_page=True)
    page.goto("/dashboard/members")
    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    check_accessibility(page)
    page.screenshot(path=str(screenshots / "member.png"), full_page=True)


def test_approve_a_pending_referral(page: Page) -> None:
    page.goto("/dashboard/referrals?status=pending")
    page.get_by_role("link", name="Emmy Noether").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("Referral approved")
    expect(page.locator(".facts .badge").first).to_have_text("approved")


def _api(demo: Demo) -> httpx.Client:
    return httpx.Client(
        base_url=demo.base_url, headers={"Authorization": f"Bearer {demo.api_key}"}, timeout=10
    )


def test_the_whole_referral_flow_from_the_dashboard(page: Page, demo: Demo) -> None:
    # A program with a double-sided reward.
    page.goto("/dashboard/programs/new")
    page.get_by_label("Name", exact=True).fill("Browser program")
    page.get_by_label("Landing page (where referral links send friends)").fill(
        f"{demo.base_url}/readyz"
    )
    rule1, rule2 = (
        page.locator("fieldset fieldset").nth(0),
        page.locator("fieldset fieldset").nth(1),
    )
    rule1.get_by_label("Kind").select_option("cash")
    rule1.get_by_label("Amount", exact=True).fill("1500")
    rule1.get_by_label("Currency", exact=True).fill("USD")
    rule2.get_by_label("Who gets it").select_option("referee")
    rule2.get_by_label("Kind").select_option("credit")
    rule2.get_by_label("Amount", exact=True).fill("1500")
    rule2.get_by_label("Currency", exact=True).fill("USD")
    page.get_by_role("button", name="Create program").click()
    expect(page.get_by_role("status")).to_contain_text("Program created")
    program_id = page.url.rsplit("/", 1)[-1]
    # A member, and a friend opening their link (a real redirect, recorded as a click).
    page.goto(f"/dashboard/members?program={program_id}")
    page.get_by_label("Email").fill("lin@example.com")
    page.get_by_label("Name").fill("Lin")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_contain_text("Member added")
    link = page.locator("a[href*='/r/']").first.get_attribute("href")
    assert link
    browser = page.context.browser
    assert browser is not None
    # A person's browser: HeadlessChrome's user agent is (rightly) counted as a bot.
    friend = browser.new_page(user_agent=PERSON_UA)
    friend.goto(link)
    assert friend.url.startswith(f"{demo.base_url}/readyz")
    friend.close()
    page.goto(f"/dashboard?program={program_id}&days=7")
    expect(page.locator(".card").first.locator(".kpi")).to_have_text("1")
    # The friend signs up (the host's backend reports it), then is approved and rewarded.
    code = link.rsplit("/", 1)[-1]
    with _api(demo) as api:
        created = api.post(
            "/api/v1/referrals",
            json={"referral_code": code, "referee": {"email": "sam@example.com", "name": "Sam"}},
        )
        assert created.status_code == 201, created.text
    page.goto(f"/dashboard/referrals?program={program_id}")
    page.get_by_role("link", name="Sam").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("Referral approved")
    rewards = page.locator("table").last
    expect(rewards).to_contain_text("USD 15.00")
    page.get_by_label("before the hold ends").first.check()
    page.get_by_role("button", name="Issue").first.click()
    expect(page.get_by_role("status")).to_contain_text("Reward issued")


def test_api_key_shown_once_then_regenerated(page: Page, demo: Demo) -> None:
    page.goto("/dashboard/api")
    page.get_by_label("Name").fill("Browser key")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("rk_live_")
    with httpx.Client(base_url=demo.base_url, timeout=10) as http:
        auth = {"Authorization": f"Bearer {secret}"}
        assert http.get("/api/v1/programs", headers=auth).status_code == 200
        page.goto("/dashboard/api")
        assert secret not in page.content()
        page.once("dialog", lambda dialog: dialog.accept())
        row = page.get_by_role("row").filter(has_text="Browser key")
        row.get_by_role("button", name="Regenerate").click()
        expect(page.get_by_role("status")).to_contain_text("old secret stopped working")
        assert http.get("/api/v1/programs", headers=auth).status_code == 401


def test_viewer_cannot_approve_and_forged_forms_are_refused(browser: Browser, demo: Demo) -> None:
    made = run_cli(
        "users",
        "create",
        "--email",
        "viewer@example.com",
        "--workspace",
        "Demo",
        "--role",
        "viewer",
        env=demo.env,
    )
    assert made.returncode == 0, made.stderr
    password = re.search(r"Password\s+(\S+)", made.stdout)
    assert password, made.stdout
    context = browser.new_context(base_url=demo.base_url)
    tab = context.new_page()
    sign_in(tab, demo.base_url, "viewer@example.com", password.group(1))
    tab.goto("/dashboard/referrals?status=pending")
    tab.get_by_role("link", name="Rosalind Franklin").click()
    expect(tab.get_by_role("heading", name="Fraud signals")).to_be_visible()
    assert tab.get_by_role("button", name="Approve").count() == 0
    referral_url = tab.url
    forged = tab.request.post(referral_url, form={"action": "approve"})
    assert forged.status == 403  # no CSRF token
    csrf = tab.locator("input[name=csrf_token]").first.get_attribute("value")
    as_viewer = tab.request.post(referral_url, form={"action": "approve", "csrf_token": csrf or ""})
    assert as_viewer.status == 403
    assert "Viewers" in as_viewer.text()
    context.close()


def test_live_preview_of_the_referrer_dashboard(page: Page, demo: Demo, screenshots: Path) -> None:
    page.goto("/dashboard/programs")
    page.get_by_role("link", name="Demo: give $20, get $20").click()
    program_id = page.url.rsplit("/", 1)[-1]
    page.goto(f"/dashboard/api?program={program_id}")
    expect(page.get_by_role("link", name="Open the preview in a new tab")).to_be_visible()
    assert page.locator("iframe.embed-preview").count() == 0  # this origin may not frame it yet
    # Let the dashboard's own origin frame the referrer dashboard (an edit round trip that
    # must keep the demo program's reward rules).
    page.goto("/dashboard/programs")
    page.get_by_role("link", name="Demo: give $20, get $20").click()
    page.get_by_label(re.compile("Allowed origins")).fill(demo.base_url)
    page.get_by_role("button", name="Save program").click()
    expect(page.get_by_role("status")).to_contain_text("Program saved")
    with _api(demo) as api:
        programs = api.get("/api/v1/programs").json()["data"]
    (program,) = [p for p in programs if p["name"] == "Demo: give $20, get $20"]
    assert len(program["reward_rules"]) == 2
    assert program["allowed_origins"] == [demo.base_url]
    page.goto(f"/dashboard/api?program={program_id}")
    preview = page.frame_locator("iframe.embed-preview")
    expect(preview.get_by_role("heading", name="Your referral link")).to_be_visible()
    check_accessibility(page)
    page.screenshot(path=str(screenshots / "api-preview.png"), full_page=True)
