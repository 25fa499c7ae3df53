"""Every dashboard page, with data and empty; the actions that call the domain services."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from referkit.dashboard.service import Role
from referkit.kit.time import utcnow
from tests.dashboard.conftest import Seeded
from tests.dashboard.helpers import User, new_user, post_form, sign_in
from tests.factories import create_member, create_program, new_key

LIST_PAGES = {
    "/dashboard": "No program yet",
    "/dashboard/programs": "No program yet",
    "/dashboard/members": "Create a program first",
    "/dashboard/referrals": "No referral yet",
    "/dashboard/rewards": "No reward here yet",
    "/dashboard/links": "No link yet",
    "/dashboard/webhooks": "No webhook endpoint yet",
    "/dashboard/api": "The two calls your backend makes",
    "/dashboard/settings": "Your sessions",
    "/dashboard/programs/new": "Reward rules",
}


@pytest.mark.parametrize(("path", "empty_text"), LIST_PAGES.items())
async def test_empty_pages(browser: httpx.AsyncClient, path: str, empty_text: str) -> None:
    response = await browser.get(path)
    assert response.status_code == 200, response.text
    assert empty_text in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_pages_with_data(browser: httpx.AsyncClient, seeded: Seeded) -> None:
    program, member, referral = seeded.program, seeded.member, seeded.referral
    expectations = {
        "/dashboard": "Qualified referrals",
        "/dashboard?days=7&program=" + program["id"]: "<svg",
        "/dashboard/programs": program["name"],
        f"/dashboard/programs/{program['id']}": "$10 for your friend",
        "/dashboard/members": "ada@example.com",
        "/dashboard/members?q=ada": "ada@example.com",
        f"/dashboard/members/{member['id']}": member["referral_link"],
        "/dashboard/referrals": "Grace",
        "/dashboard/referrals?status=qualified": "Grace",
        f"/dashboard/referrals/{referral['id']}": "Why it was attributed",
        "/dashboard/rewards": "$20 for you",
        "/dashboard/rewards?status=pending": "$10 for your friend",
        "/dashboard/links": member["referral_code"],
        "/dashboard/webhooks": "http://127.0.0.1:9/hook",
        "/dashboard/api": "/members",
    }
    for path, text in expectations.items():
        response = await browser.get(path)
        assert response.status_code == 200, (path, response.text)
        assert text in response.text, path
    overview = (await browser.get("/dashboard")).text
    assert "USD 10.00" in overview or "USD 30.00" in overview  # rewards created today


async def test_filters_that_match_nothing(browser: httpx.AsyncClient, seeded: Seeded) -> None:
    response = await browser.get("/dashboard/referrals?status=denied")
    assert "No referral matches these filters" in response.text
    response = await browser.get("/dashboard/members?q=nobody-here")
    assert "No member matches" in response.text


async def test_link_page_and_qr(browser: httpx.AsyncClient, seeded: Seeded) -> None:
    links = (await browser.get("/dashboard/links")).text
    link_id = re.search(r"/dashboard/links/(lnk_[0-9a-z]+)", links)
    assert link_id
    page = await browser.get(f"/dashboard/links/{link_id.group(1)}")
    assert page.status_code == 200
    assert "Clicks in the last 30 days" in page.text
    svg = await browser.get(f"/dashboard/links/{link_id.group(1)}/qr.svg")
    assert svg.headers["content-type"] == "image/svg+xml"
    png = await browser.get(f"/dashboard/links/{link_id.group(1)}/qr.png?download=1")
    assert png.content.startswith(b"\x89PNG")
    assert "attachment" in png.headers["content-disposition"]


async def test_approve_a_referral(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, admin: User, seeded: Seeded
) -> None:
    referral_id = seeded.referral["id"]
    page = f"/dashboard/referrals/{referral_id}"
    response = await post_form(
        browser, page, {"action": "approve", "note": "looks fine"}, page=page
    )
    assert response.status_code == 303
    assert "approved" in (await browser.get(page)).text
    api = await client.get(f"/api/v1/referrals/{referral_id}", headers=admin.key.headers)
    assert api.json()["status"] == "approved"
    assert api.json()["note"] == "looks fine"


async def test_deny_many_referrals(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, admin: User, seeded: Seeded
) -> None:
    ids = []
    for name in ("one", "two"):
        created = await client.post(
            "/api/v1/referrals",
            json={
                "referral_code": seeded.member["referral_code"],
                "referee": {"email": f"{name}@example.com"},
            },
            headers=admin.key.headers,
        )
        ids.append(created.json()["id"])
    token_page = (await browser.get("/dashboard/referrals")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', token_page)
    assert token
    response = await browser.post(
        "/dashboard/referrals/bulk",
        data={"csrf_token": token.group(1), "action": "deny", "referral_id": ids},
    )
    assert response.status_code == 303
    for referral_id in ids:
        api = await client.get(f"/api/v1/referrals/{referral_id}", headers=admin.key.headers)
        assert api.json()["status"] == "denied"


async def test_illegal_transition_is_a_page_not_a_crash(
    browser: httpx.AsyncClient, seeded: Seeded
) -> None:
    page = f"/dashboard/referrals/{seeded.referral['id']}"
    await post_form(browser, page, {"action": "deny"}, page=page)
    again = await post_form(browser, page, {"action": "approve"}, page=page)
    assert again.status_code == 409
    assert "<h1>" in again.text


async def test_issue_and_cancel_rewards(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, admin: User, seeded: Seeded
) -> None:
    rewards = await client.get("/api/v1/rewards", headers=admin.key.headers)
    first, second = (r["id"] for r in rewards.json()["data"][:2])
    issued = await post_form(browser, f"/dashboard/rewards/{first}/issue", {"override_hold": "on"})
    assert issued.status_code == 303
    cancelled = await post_form(browser, f"/dashboard/rewards/{second}/cancel")
    assert cancelled.status_code == 303
    statuses = {
        r["id"]: r["status"]
        for r in (await client.get("/api/v1/rewards", headers=admin.key.headers)).json()["data"]
    }
    assert statuses[first] == "issued"
    assert statuses[second] == "cancelled"


async def test_create_a_program_with_a_double_sided_reward(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, admin: User
) -> None:
    form = {
        "name": "Give 10 get 10",
        "landing_url": "https://example.com/join",
        "status": "active",
        "allowed_origins": "https://app.example.com",
        "attribution_model": "last_click",
        "attribution_window_days": "45",
        "qualification_event": "purchase",
        "qualification_min_amount": "5000",
        "qualification_currency": "usd",
        "fraud_mode": "flag",
        "fraud_self_referral": "on",
        "rule_rows": "3",
        "rule0_recipient": "referrer",
        "rule0_trigger": "referral_qualified",
        "rule0_kind": "cash",
        "rule0_amount": "1000",
        "rule0_currency": "USD",
        "rule1_recipient": "referee",
        "rule1_trigger": "referral_qualified",
        "rule1_kind": "credit",
        "rule1_amount": "1000",
        "rule1_currency": "USD",
        "rule2_kind": "",
    }
    response = await post_form(browser, "/dashboard/programs/new", form)
    assert response.status_code == 303, response.text
    programs = (await client.get("/api/v1/programs", headers=admin.key.headers)).json()["data"]
    (program,) = [p for p in programs if p["name"] == "Give 10 get 10"]
    assert [r["recipient"] for r in program["reward_rules"]] == ["referrer", "referee"]
    assert program["attribution"]["window_days"] == 45
    assert program["allowed_origins"] == ["https://app.example.com"]
    assert program["qualification"]["currency"] == "USD"
    # Edit: drop the referee rule, keep the referrer rule's id.
    rule_id = program["reward_rules"][0]["id"]
    edit = {**form, "rule_rows": "2", "rule0_id": rule_id, "rule1_kind": "", "name": "Give 10"}
    saved = await post_form(browser, f"/dashboard/programs/{program['id']}", edit)
    assert saved.status_code == 303, saved.text
    again = (
        await client.get(f"/api/v1/programs/{program['id']}", headers=admin.key.headers)
    ).json()
    assert again["name"] == "Give 10"
    assert [r["id"] for r in again["reward_rules"]] == [rule_id]


async def test_invalid_program_form_shows_the_errors(browser: httpx.AsyncClient) -> None:
    response = await post_form(
        browser, "/dashboard/programs/new", {"name": "", "landing_url": "not a url"}
    )
    assert response.status_code == 422
    assert "landing_url" in response.text


async def test_add_member_and_create_link(browser: httpx.AsyncClient, seeded: Seeded) -> None:
    added = await post_form(
        browser,
        "/dashboard/members",
        {"program_id": seeded.program["id"], "email": "new@example.com", "name": "New"},
    )
    assert added.status_code == 303
    assert "new@example.com" in (await browser.get(added.headers["location"])).text
    link = await post_form(
        browser,
        "/dashboard/links",
        {"program_id": seeded.program["id"], "code": "SPRING-26", "utm_source": "newsletter"},
    )
    assert link.status_code == 303, link.text
    assert "utm_source=newsletter" in (await browser.get(link.headers["location"])).text


async def test_api_key_secret_shown_once_and_regenerate_stops_the_old_one(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    created = await post_form(
        browser, "/dashboard/api/keys", {"name": "Backend", "scope": "full", "mode": "live"}
    )
    assert created.status_code == 200
    secret = re.search(r'id="new-secret">(rk_live_[^<]+)<', created.text)
    assert secret
    old = secret.group(1)
    assert (
        await client.get("/api/v1/programs", headers={"Authorization": f"Bearer {old}"})
    ).status_code == 200
    panel = (await browser.get("/dashboard/api")).text
    assert old not in panel  # shown once only
    key_id = re.search(r"/dashboard/api/keys/(key_[0-9a-z]+)/regenerate", panel)
    assert key_id
    again = await post_form(
        browser, f"/dashboard/api/keys/{key_id.group(1)}/regenerate", page="/dashboard/api"
    )
    assert "old secret stopped working" in again.text
    refused = await client.get("/api/v1/programs", headers={"Authorization": f"Bearer {old}"})
    assert refused.status_code == 401


async def test_webhook_log_retry_and_rotate(browser: httpx.AsyncClient, seeded: Seeded) -> None:
    hooks = (await browser.get("/dashboard/webhooks")).text
    endpoint = re.search(r"/dashboard/webhooks/(wh_[0-9a-z]+)", hooks)
    assert endpoint
    page = f"/dashboard/webhooks/{endpoint.group(1)}"
    assert "Nothing delivered yet" in (await browser.get(page)).text
    sent = await post_form(browser, f"{page}/test", page=page)
    assert sent.status_code == 303
    log = await browser.get(page)
    assert "webhook.test" in log.text
    message = re.search(r"/retry/(msg_[0-9a-z]+)", log.text)
    assert message
    retried = await post_form(browser, f"{page}/retry/{message.group(1)}", page=page)
    assert retried.status_code == 303
    rotated = await post_form(browser, f"{page}/rotate", page=page)
    assert rotated.status_code == 200
    assert "shown only now" in rotated.text
    created = await post_form(
        browser,
        "/dashboard/webhooks",
        {"url": "http://127.0.0.1:9/other", "events": "reward.issued"},
    )
    assert "signing secret is shown only now" in created.text


async def test_another_workspaces_ids_are_not_found(
    app: FastAPI, browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    other = await new_key(app)
    program = await create_program(client, other)
    member = await create_member(client, other, program["id"])
    for path in (f"/dashboard/programs/{program['id']}", f"/dashboard/members/{member['id']}"):
        response = await browser.get(path)
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"]


async def test_viewer_sees_but_cannot_act(
    app: FastAPI, client: httpx.AsyncClient, admin: User, seeded: Seeded
) -> None:
    viewer = await new_user(app, role=Role.viewer, key=admin.key)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await sign_in(http, viewer)
        page = f"/dashboard/referrals/{seeded.referral['id']}"
        shown = await http.get(page)
        assert shown.status_code == 200
        assert 'value="approve"' not in shown.text
        refused = await post_form(http, page, {"action": "approve"}, page=page)
        assert refused.status_code == 403
        for path in ("/dashboard/api/keys", "/dashboard/settings/invites", "/dashboard/links"):
            assert (await post_form(http, path, {"name": "x"})).status_code == 403
    api = await client.get(f"/api/v1/referrals/{seeded.referral['id']}", headers=admin.key.headers)
    assert api.json()["status"] == "qualified"


async def test_switch_workspace_and_mode(
    app: FastAPI, browser: httpx.AsyncClient, admin: User
) -> None:
    second = await new_key(app)
    await new_user(app, key=second, email=admin.email)  # the same person, another workspace
    home = (await browser.get("/dashboard")).text
    assert second.workspace_id in home  # in the switcher
    switched = await post_form(browser, "/dashboard/switch", {"workspace_id": second.workspace_id})
    assert switched.status_code == 303
    settings = (await browser.get("/dashboard/settings")).text
    assert second.workspace_id in settings
    test_mode = await post_form(browser, "/dashboard/switch", {"mode": "test"})
    assert test_mode.status_code == 303
    assert "Test mode" in (await browser.get("/dashboard")).text
    stranger = await new_key(app)
    refused = await post_form(browser, "/dashboard/switch", {"workspace_id": stranger.workspace_id})
    assert refused.status_code == 404


async def test_invite_link_adds_a_new_user(app: FastAPI, browser: httpx.AsyncClient) -> None:
    created = await post_form(
        browser, "/dashboard/settings/invites", {"role": "viewer"}, page="/dashboard/settings"
    )
    link = re.search(r"http://testserver(/dashboard/invite/[A-Za-z0-9_-]+)", created.text)
    assert link
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as guest:
        form = await guest.get(link.group(1))
        assert form.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        joined = await guest.post(
            link.group(1),
            data={
                "csrf_token": token.group(1),
                "email": "newcomer@example.com",
                "password": "a long enough password",
            },
        )
        assert joined.status_code == 303, joined.text
        page = await guest.get("/dashboard/settings")
        assert "newcomer@example.com" in page.text
        assert "viewer" in page.text
        assert (await guest.get(link.group(1))).status_code == 404  # used


async def test_referrer_dashboard_preview(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, admin: User, seeded: Seeded
) -> None:
    panel = await browser.get("/dashboard/api")
    url = re.search(r'href="(http://testserver/embed/referrer\?token=[^"]+)"', panel.text)
    assert url, panel.text
    assert "<iframe" not in panel.text  # the program does not let this origin frame it
    assert "add <code>http://testserver</code>" in panel.text
    shown = await client.get(url.group(1).removeprefix("http://testserver"))
    assert shown.status_code == 200
    assert seeded.member["referral_code"] in shown.text
    allowed = await client.patch(
        f"/api/v1/programs/{seeded.program['id']}",
        json={"allowed_origins": ["http://testserver"]},
        headers=admin.key.headers,
    )
    assert allowed.status_code == 200
    member_page = await browser.get(f"/dashboard/members/{seeded.member['id']}")
    assert '<iframe class="embed-preview" src="http://testserver/embed/referrer?token=' in (
        member_page.text
    )
    assert "frame-src 'self'" in member_page.headers["content-security-policy"]


async def test_malformed_addresses_are_pages(browser: httpx.AsyncClient) -> None:
    for path in ("/dashboard?days=abc", "/dashboard/referrals?cursor=nonsense"):
        response = await browser.get(path)
        assert response.status_code == 422, path
        assert "text/html" in response.headers["content-type"]
    missing = await browser.get("/dashboard/referrals/ref_doesnotexist")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]


async def test_refused_forms_show_the_reason(browser: httpx.AsyncClient, seeded: Seeded) -> None:
    taken = await post_form(
        browser,
        "/dashboard/links",
        {"code": seeded.member["referral_code"], "program_id": seeded.program["id"]},
    )
    assert taken.status_code == 422
    assert "is already in use" in taken.text
    key = await post_form(browser, "/dashboard/api/keys", {"name": "", "scope": "full"})
    assert key.status_code == 422
    assert 'class="error" role="alert">name:' in key.text
    renamed = await post_form(browser, "/dashboard/settings/workspace", {"name": ""})
    assert renamed.status_code == 422


async def test_reward_chart_sums_by_day_without_cancelled(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    seeded: Seeded,
    admin: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A goodwill credit made 10 days ago (the reward service's clock set back while making it).
    earlier = utcnow() - timedelta(days=10)
    monkeypatch.setattr("referkit.reward.service.utcnow", lambda: earlier)
    credit = await client.post(
        "/api/v1/rewards",
        json={
            "member_id": seeded.member["id"],
            "kind": "credit",
            "amount": 500,
            "currency": "USD",
        },
        headers=admin.key.headers,
    )
    assert credit.status_code == 201, credit.text
    monkeypatch.undo()
    week = (await browser.get("/dashboard?days=7")).text
    assert "USD 30.00" in week  # this week: the referrer's and the friend's rewards
    assert "USD 5.00" in week  # the week before: the credit
    assert "2 pending · 0 issued" in week
    assert "USD 35.00" in (await browser.get("/dashboard?days=30")).text
    rewards = (
        await client.get(
            "/api/v1/rewards",
            params={"program_id": seeded.program["id"]},
            headers=admin.key.headers,
        )
    ).json()["data"]
    referrer = next(r for r in rewards if r["recipient"] == "referrer" and r["amount"] == 2000)
    cancelled = await client.post(
        f"/api/v1/rewards/{referrer['id']}/cancel", json={}, headers=admin.key.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    month = (await browser.get("/dashboard?days=30")).text
    assert "USD 15.00" in month
    assert "USD 35.00" not in month
