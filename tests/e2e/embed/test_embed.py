"""The embedded referrer dashboard in a real browser, framed by a customer's site.

A click, a signup and a qualifying purchase go through the public API; the host page (on
another loopback origin) mounts the dashboard with the script tag; its numbers must equal the
API's, its copy button must put the link on the clipboard, a site the program does not allow
must not be able to frame it, an expired token must show the friendly page, and axe-core must
find no serious violation in the light and dark themes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Frame, Page, expect

from referkit.embed import tokens
from tests.e2e.embed.conftest import SECRET_KEY, Stack

BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
SERIOUS = {"serious", "critical"}
TIMEOUT_MS = 15_000


def _member(stack: Stack, user: str) -> dict[str, Any]:
    found = stack.api.get(
        f"/programs/{stack.program['id']}/members", params={"external_id": user}
    ).raise_for_status()
    data: list[dict[str, Any]] = found.json()["data"]
    assert len(data) == 1
    return data[0]


def _referral_activity(stack: Stack, member: dict[str, Any]) -> None:
    """A friend clicks the link, signs up with the click id and buys enough to qualify."""
    opened = httpx.get(member["referral_link"], headers={"User-Agent": BROWSER_UA})
    assert opened.status_code == 302
    click_id = parse_qs(urlsplit(opened.headers["location"]).query)["rk_click"][0]
    friend = uuid.uuid4().hex[:8]
    customer = {"external_id": f"cust-{friend}", "email": f"sam{friend}@example.com"}
    signup = stack.api.post(
        "/events",
        json={
            "event_id": f"signup-{friend}",
            "type": "signup",
            "click_id": click_id,
            "customer": customer,
        },
    )
    assert signup.status_code == 201, signup.text
    purchase = stack.api.post(
        "/events",
        json={
            "event_id": f"order-{friend}",
            "type": "purchase",
            "customer": customer,
            "amount": 4900,
            "currency": "USD",
        },
    )
    assert purchase.status_code == 201, purchase.text


def _context(browser: Browser, stack: Stack) -> BrowserContext:
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.host_url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.base_url)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _dashboard(page: Page) -> Frame:
    """The mounted iframe's frame, once it said `ready` to the host page."""
    page.wait_for_function("window.referkitEvents.some(e => e[0] === 'ready')")
    handle = page.locator("#referrals iframe").element_handle()
    frame = handle.content_frame() if handle else None
    assert frame is not None
    return frame


def _no_serious_violations(frame: Frame | Page, where: str) -> None:
    results = Axe().run(frame)  # type: ignore[arg-type]  (a Frame evaluates like a Page)
    serious = [v for v in results.response["violations"] if v["impact"] in SERIOUS]
    assert not serious, f"{where}: {results.generate_snapshot()}"


def test_host_page_mounts_the_dashboard_with_the_apis_numbers(
    stack: Stack, browser: Browser, artifacts: Path
) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    context = _context(browser, stack)
    page = context.new_page()
    try:
        # First visit: the host's backend creates the member through the token call.
        page.goto(f"{stack.host_url}/?user={user}")
        frame = _dashboard(page)
        member = _member(stack, user)
        expect(frame.locator("#rk-link")).to_have_value(member["referral_link"])
        expect(frame.locator("[data-empty=referrals]")).to_be_visible()

        _referral_activity(stack, member)
        page.goto(f"{stack.host_url}/?user={user}")
        frame = _dashboard(page)
        stats = stack.api.get(f"/members/{member['id']}/stats").raise_for_status().json()
        assert (stats["reach"], stats["referrals"], stats["qualified_referrals"]) == (1, 1, 1)
        for name in ("reach", "referrals", "qualified_referrals"):
            shown = frame.locator(f"[data-stat={name}]").inner_text()
            assert int(shown) == stats[name], name
        reward = frame.locator("[data-reward-unit=USD]")
        expect(reward.locator("[data-reward=earned]")).to_have_text("20.00 USD")
        expect(reward.locator("[data-reward=pending]")).to_have_text("20.00 USD")
        expect(frame.locator("[data-milestone='3']")).to_contain_text("1 / 3")
        expect(frame.locator("tr[data-referral]")).to_contain_text("Qualified")
        expect(frame.locator("tr[data-referral]")).to_contain_text("s***@example.com")

        # The frame sized itself to its content through postMessage.
        frame_height = page.locator("#referrals iframe").bounding_box()
        content_height = frame.evaluate("document.documentElement.scrollHeight")
        assert frame_height is not None
        assert abs(frame_height["height"] - content_height) <= 2
        page.screenshot(path=str(artifacts / f"host-{stack.backend}.png"), full_page=True)
    finally:
        context.close()


def test_copy_button_puts_the_link_on_the_clipboard(stack: Stack, browser: Browser) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    context = _context(browser, stack)
    page = context.new_page()
    try:
        page.goto(f"{stack.host_url}/?user={user}")
        frame = _dashboard(page)
        link = frame.locator("#rk-link").input_value()
        frame.get_by_role("button", name="Copy link").click()
        expect(frame.locator("#rk-copy-status")).to_have_text("Link copied.")
        page.wait_for_function("window.referkitEvents.some(e => e[0] === 'copied')")
        assert page.evaluate("navigator.clipboard.readText()") == link
        copied = page.evaluate("window.referkitEvents.find(e => e[0] === 'copied')[1]")
        assert copied == {"link": link}
    finally:
        context.close()


def test_a_site_the_program_does_not_allow_cannot_frame_it(stack: Stack, browser: Browser) -> None:
    context = _context(browser, stack)
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    try:
        page.goto(f"{stack.other_url}/?user=user-{uuid.uuid4().hex[:8]}")
        iframe = page.locator("#referrals iframe")
        expect(iframe).to_have_count(1)
        page.wait_for_timeout(1500)  # time enough for an allowed frame to have said `ready`
        assert page.evaluate("window.referkitEvents.length") == 0
        frame = iframe.element_handle().content_frame()
        assert frame is not None
        assert frame.locator("#rk-link").count() == 0
        assert any("frame-ancestors" in text for text in refused), refused
    finally:
        context.close()


def test_an_expired_token_shows_the_friendly_page(stack: Stack, browser: Browser) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    issued = stack.api.post(
        f"/programs/{stack.program['id']}/embed-token", json={"external_id": user}
    ).raise_for_status()
    member_id = issued.json()["member_id"]
    claims = tokens.new_claims(
        workspace_id=_workspace_of(stack),
        livemode=True,
        program_id=stack.program["id"],
        member_id=member_id,
        now=datetime.now(UTC) - timedelta(hours=3),
        ttl_seconds=3600,
    )
    expired = tokens.sign(claims, tokens.derive_key(SECRET_KEY.encode()))
    context = _context(browser, stack)
    page = context.new_page()
    try:
        page.goto(f"{stack.host_url}/raw?{httpx.QueryParams(token=expired)}")
        frame = _dashboard(page)
        expect(frame.get_by_role("heading", name="This page has expired")).to_be_visible()
        assert frame.locator("#rk-link").count() == 0
        state = page.evaluate("window.referkitEvents.find(e => e[0] === 'ready')[1].state")
        assert state == "expired"
        _no_serious_violations(frame, "expired page")
    finally:
        context.close()


def _workspace_of(stack: Stack) -> str:
    workspace: str = stack.api.get("/workspace").raise_for_status().json()["id"]
    return workspace


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_axe_finds_no_serious_violation(
    stack: Stack, browser: Browser, artifacts: Path, theme: str
) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    member_id = (
        stack.api.post(f"/programs/{stack.program['id']}/embed-token", json={"external_id": user})
        .raise_for_status()
        .json()["member_id"]
    )
    _referral_activity(stack, _member(stack, user))
    context = _context(browser, stack)
    page = context.new_page()
    try:
        page.goto(f"{stack.host_url}/?user={user}&theme={theme}")
        frame = _dashboard(page)
        assert frame.evaluate("document.documentElement.dataset.theme") == theme
        expect(frame.locator("tr[data-referral]")).to_have_count(1)
        _no_serious_violations(frame, f"{theme} dashboard of {member_id}")
        page.screenshot(path=str(artifacts / f"dashboard-{theme}-{stack.backend}.png"))
    finally:
        context.close()
