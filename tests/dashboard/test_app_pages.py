"""The mobile half of the dashboard through HTTP: apps (list, create, edit, client key shown
once), an app's page (KPIs, stats, links with deep links, installs and how they were
attributed), integrations (write-only credentials, dry run, forwarding log and retry) and SKAN
(a schema refused with the bad rule named, then saved; postbacks verified or not); a viewer
changes nothing and a form without its CSRF token is refused."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from fastapi import FastAPI

from referkit.config import Settings
from referkit.dashboard.service import Role
from tests.conftest import TEST_BASE_URL
from tests.dashboard.helpers import User, new_user, post_form, sign_in
from tests.mobile.factories import IPHONE_UA, click, click_id_of, create_app, create_app_link
from tests.skan.factories import SCHEMA
from tests.skan.keys import PUBLIC_B64, skan4

SECRET_TOKEN = "EAAB-dashboard-test-token-0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Postbacks signed with the local test key verify (as in tests/skan)."""
    return settings.model_copy(update={"skan_extra_public_keys": PUBLIC_B64})


async def test_apps_empty_create_edit_and_client_key_once(browser: httpx.AsyncClient) -> None:
    empty = await browser.get("/dashboard/apps")
    assert empty.status_code == 200
    assert "No app yet" in empty.text
    assert 'href="/dashboard/apps/new"' in empty.text

    refused = await post_form(
        browser,
        "/dashboard/apps/new",
        {"name": "Bad", "ios_team_id": "lower", "click_window_days": "7"},
        page="/dashboard/apps/new",
    )
    assert refused.status_code == 422
    assert "team_id" in refused.text
    assert 'value="Bad"' in refused.text  # the form comes back with what was typed

    created = await post_form(
        browser,
        "/dashboard/apps/new",
        {
            "name": "Shop",
            "ios_bundle_id": "com.example.shop",
            "ios_app_store_id": "123456789",
            "ios_team_id": "ABCDE12345",
            "android_package": "com.example.shop",
            "android_fingerprints": ":".join(["AB"] * 32),
            "web_url": "https://example.com/shop",
            "deep_link_scheme": "shop",
            "click_window_days": "7",
            "probabilistic_window_hours": "0",
            "reattribution_window_days": "30",
        },
        page="/dashboard/apps/new",
    )
    assert created.status_code == 303, created.text
    app_url = created.headers["location"]
    page = await browser.get(app_url)
    assert page.status_code == 200
    assert "App created." in page.text
    assert "<svg" in page.text
    assert "Installs" in page.text
    assert "No install yet" in page.text
    listed = await browser.get("/dashboard/apps")
    assert "Shop" in listed.text
    assert "com.example.shop" in listed.text

    edit = await browser.get(f"{app_url}/edit")
    assert 'value="0"' in edit.text  # the probabilistic window as stored
    saved = await post_form(
        browser,
        f"{app_url}/edit",
        {"name": "Shop 2", "ios_bundle_id": "com.example.shop", "click_window_days": "14"},
        page=f"{app_url}/edit",
    )
    assert saved.status_code == 303, saved.text
    edited = (await browser.get(f"{app_url}/edit")).text
    assert 'value="Shop 2"' in edited
    assert 'value="14"' in edited
    assert "com.example.shop" in edited
    assert "ABCDE12345" not in edited

    key_page = await post_form(browser, f"{app_url}/client-keys", {"name": "iOS"}, page=app_url)
    assert key_page.status_code == 200
    token = re.search(r"(pk_app_[A-Za-z0-9_-]+)", key_page.text)
    assert token, key_page.text
    assert token.group(1) not in (await browser.get(app_url)).text  # shown once


async def test_app_page_links_installs_and_stats(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, admin: User
) -> None:
    app = await create_app(client, admin.key)
    made = await post_form(
        browser,
        f"/dashboard/apps/{app['id']}/links",
        {
            "code": "SHOPSPRING",
            "deep_link_path": "/product/42",
            "deep_link_params": "coupon=SPRING\nsource=dash",
            "network": "influencer",
            "campaign": "spring",
        },
        page=f"/dashboard/apps/{app['id']}",
    )
    assert made.status_code == 303, made.text
    link_page = (await browser.get(made.headers["location"])).text
    assert "App link SHOPSPRING created." in link_page
    assert "/product/42" in link_page
    assert "coupon=SPRING" in link_page
    assert "QR code" in link_page

    bad = await post_form(
        browser,
        f"/dashboard/apps/{app['id']}/links",
        {"deep_link_params": "no equals sign"},
        page=f"/dashboard/apps/{app['id']}",
    )
    assert bad.status_code == 422
    assert "is not key=value" in bad.text

    opened = await click(client, "SHOPSPRING", IPHONE_UA)
    install = await client.post(
        f"/api/v1/apps/{app['id']}/installs",
        json={"device": {"os": "ios", "idfv": "dash-1"}, "click_id": click_id_of(opened)},
        headers=admin.key.headers,
    )
    assert install.status_code == 201, install.text
    page = (await browser.get(f"/dashboard/apps/{app['id']}?days=7")).text
    assert install.json()["install_id"] in page
    assert 'class="badge click_id"' in page
    assert ">SHOPSPRING<" in page  # the stats by link name the link by its code
    network = (await browser.get(f"/dashboard/apps/{app['id']}?group=network")).text
    assert "influencer" in network
    assert (await browser.get(f"/dashboard/apps/{app['id']}?days=abc")).status_code == 422


async def test_integrations_write_only_dry_run_log_and_retry(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, admin: User
) -> None:
    app = await create_app(client, admin.key)
    base = f"/dashboard/apps/{app['id']}/integrations"
    page = await browser.get(base)
    assert page.status_code == 200
    assert "Meta (Conversions API)" in page.text
    assert "not set up" in page.text

    saved = await post_form(
        browser,
        f"{base}/meta",
        {
            "enabled": "on",
            "send": "all",
            "config_dataset_id": "1234567890",
            "credential_access_token": SECRET_TOKEN,
            "event_map": "install=MobileAppInstall\npurchase=Purchase",
        },
        page=base,
    )
    assert saved.status_code == 303, saved.text
    shown = (await browser.get(base)).text
    assert SECRET_TOKEN not in shown  # write-only
    assert "Stored (hidden)" in shown
    assert "install=MobileAppInstall" in shown
    bad = await post_form(browser, f"{base}/meta", {"event_map": "install"}, page=base)
    assert bad.status_code == 422
    assert "is not ours=theirs" in bad.text

    no_event = await post_form(browser, f"{base}/meta/test", page=base)
    assert no_event.status_code == 422
    assert "has no events yet" in no_event.text
    installed = await client.post(
        f"/api/v1/apps/{app['id']}/installs",
        json={"device": {"os": "ios", "idfv": "dash-2"}},
        headers=admin.key.headers,
    )
    assert installed.status_code == 201, installed.text
    dry = await post_form(browser, f"{base}/meta/test", page=base)
    assert dry.status_code == 200
    assert "nothing was sent" in dry.text
    assert "/1234567890/events" in dry.text
    assert "MobileAppInstall" in dry.text
    assert SECRET_TOKEN not in dry.text

    log_page = await browser.get(f"{base}/meta/log")
    assert log_page.status_code == 200
    forward = re.search(r"/log/(fwd_[^/]+)/retry", log_page.text)
    assert forward, log_page.text  # the install, sent "all", was queued for Meta
    retried = await post_form(
        browser, f"{base}/meta/log/{forward.group(1)}/retry", page=f"{base}/meta/log"
    )
    assert retried.status_code == 303
    switched = await post_form(browser, f"{base}/meta/enabled", {"enabled": "off"}, page=base)
    assert switched.status_code == 303
    assert "badge disabled" in (await browser.get(base)).text


async def test_skan_schema_errors_name_the_rule_then_save_and_postbacks(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, admin: User
) -> None:
    app = await create_app(
        client,
        admin.key,
        platforms={"ios": {"bundle_id": "com.example.skan", "app_store_id": "987650001"}},
    )
    base = f"/dashboard/apps/{app['id']}/skan"
    first = await browser.get(base)
    assert first.status_code == 200
    assert "No schema yet" in first.text
    broken = {**SCHEMA, "fine": [*SCHEMA["fine"], {"value": 64, "event": "level"}]}
    overlap = {**SCHEMA, "fine": [*SCHEMA["fine"], {"value": 40, "event": "signup"}]}
    refused = await post_form(browser, base, {"schema": json.dumps(broken)}, page=base)
    assert refused.status_code == 422
    assert "fine.5.value" in refused.text
    named = await post_form(browser, base, {"schema": json.dumps(overlap)}, page=base)
    assert named.status_code == 422
    assert "fine[5]" in named.text
    assert "overlap" in named.text
    assert "&#34;value&#34;: 40" in named.text  # the draft comes back to fix
    not_json = await post_form(browser, base, {"schema": "{nope"}, page=base)
    assert not_json.status_code == 422
    assert "not valid JSON" in not_json.text

    saved = await post_form(browser, base, {"schema": json.dumps(SCHEMA)}, page=base)
    assert saved.status_code == 303, saved.text
    page = (await browser.get(base)).text
    assert "Schema version 1 saved." in page
    assert "Version 1" in page

    body = skan4("987650001", **{"conversion-value": 20, "coarse-conversion-value": "high"})
    for posted in (body, {**body, "source-identifier": "9999"}):
        answer = await client.post("/api/skan/postback", json=posted)
        assert answer.status_code == 200, answer.text
    page = (await browser.get(base)).text
    assert "badge verified" in page
    assert "badge unverified" in page
    assert "signature does not verify; not counted" in page
    assert "purchase at least 1 time, revenue USD 10.00 up to USD 50.00" in page


async def test_viewer_changes_nothing_and_forms_need_csrf(
    app: FastAPI, client: httpx.AsyncClient, browser: httpx.AsyncClient, admin: User
) -> None:
    mobile = await create_app(client, admin.key)
    await create_app_link(client, admin.key, mobile["id"])
    viewer = await new_user(app, role=Role.viewer, key=admin.key)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=TEST_BASE_URL) as http:
        await sign_in(http, viewer)
        base = f"/dashboard/apps/{mobile['id']}"
        for path in ("/dashboard/apps", base, f"{base}/integrations", f"{base}/skan"):
            shown = await http.get(path)
            assert shown.status_code == 200, path
            assert "Create app link" not in shown.text
            assert "Save schema" not in shown.text
        for path, data in (
            ("/dashboard/apps/new", {"name": "Nope"}),
            (f"{base}/edit", {"name": "Nope"}),
            (f"{base}/links", {"code": "NOPE123"}),
            (f"{base}/client-keys", {}),
            (f"{base}/integrations/meta", {"enabled": "on"}),
            (f"{base}/integrations/meta/test", {}),
            (f"{base}/skan", {"schema": "{}"}),
        ):
            refused = await post_form(http, path, data)
            assert refused.status_code == 403, path
            assert "Viewers cannot change" in refused.text
    apps = (await client.get("/api/v1/apps", headers=admin.key.headers)).json()["data"]
    assert [a["name"] for a in apps] == [mobile["name"]]
    forged = await browser.post(f"{base}/client-keys", data={"name": "forged"})
    assert forged.status_code == 403
    assert "pk_app_" not in forged.text
