"""Mobile attribution, customers and data care through the SDK, against the live app: an app, a
client key that sends an install (as a device would), app links and analytics; a customer's
export and erasure; and the typed errors of the newer problem codes."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from referkit_client import (
    AsyncReferkit,
    InsufficientScopeError,
    NotFoundError,
    RateLimitError,
    Referkit,
    RequestBodyTimeoutError,
    Retry,
    SignInThrottledError,
)
from referkit_client.errors import error_for
from referkit_client.models import AppCreate, Device, InstallCreate, LinkCreate

from referkit.config import Settings
from tests.conftest import BASE, issue_key

ANDROID_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile"
PLAY = "https://play.google.com/store/apps/details?id=com.example.shop"


async def _click_id(app: FastAPI, short_url: str) -> str:
    """Follow the short link as an Android phone: the store URL carries the click id."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as browser:
        answer = await browser.get(urlsplit(short_url).path, headers={"user-agent": ANDROID_UA})
    assert answer.status_code in (302, 307), answer.text
    referrer = parse_qs(urlsplit(answer.headers["location"]).query)["referrer"][0]
    return referrer.removeprefix("rk_click=")


async def test_an_install_sent_with_a_client_key_is_attributed(
    rk: AsyncReferkit, app: FastAPI
) -> None:
    created = await rk.create_app(
        AppCreate(
            name="Shop",
            platforms={"android": {"package": "com.example.shop", "store_url": PLAY}},
            deep_link_scheme="shop",
        )
    )
    assert [a.id async for a in rk.iter_apps()] == [created.id]
    client_key = await rk.create_client_key(created.id, name="Android app")
    assert client_key.key.startswith("pk_app_")
    stored = await rk.get_key(client_key.id)
    assert (stored.scope, stored.app_id, stored.secret) == ("app_client", created.id, None)

    link = await rk.create_app_link(
        created.id,
        LinkCreate(destination_url="https://example.com/p/42", deep_link_path="/product/42"),
    )
    assert (await rk.get_app_link(created.id, link.id)).app_id == created.id
    renamed = await rk.update_app_link(created.id, link.id, {"campaign": "spring"})
    assert renamed.campaign == "spring"
    assert [x.id async for x in rk.iter_app_links(created.id)] == [link.id]

    click = await _click_id(app, link.short_url)
    install = InstallCreate(
        device=Device(os="android", os_version="14", user_agent=ANDROID_UA),
        install_referrer=f"rk_click={click}",
        event_id="device-1-first-open",
    )
    first = await rk.create_install(created.id, install, client_key=client_key.key)
    again = await rk.create_install(created.id, install, client_key=client_key.key)
    assert first.install_id == again.install_id
    assert (first.attribution.link_id, first.attribution.click_id) == (link.id, click)
    assert first.deep_link is not None
    assert first.deep_link.path == "/product/42"

    # The publishable key may send installs, and nothing else.
    device = AsyncReferkit(
        api_key=client_key.key,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE),
    )
    async with device:
        with pytest.raises(InsufficientScopeError):
            await device.list_apps()

    today = datetime.now(UTC).date()
    stats = await rk.app_stats(created.id, group_by="link", to=today)
    assert (stats.totals.clicks, stats.totals.installs) == (1, 1)
    assert [(row.key, row.installs) for row in stats.data] == [(link.id, 1)]
    overview = await rk.app_overview(created.id)
    assert overview.current.installs == 1
    assert overview.kpis["installs"].current == 1
    assert [t.link_id for t in overview.top_links] == [link.id]
    book = await rk.portfolio()
    assert [(a.app_id, a.current.installs) for a in book.data] == [(created.id, 1)]
    assert book.period.to == today
    assert [e.type async for e in rk.iter_app_events(created.id)] == ["install"]

    await rk.delete_app_link(created.id, link.id)
    await rk.delete_app(created.id)
    with pytest.raises(NotFoundError):
        await rk.get_app(created.id)


def test_sync_client_exports_and_erases_a_customer(sync_rk: Referkit) -> None:
    sync_rk.create_event(
        {
            "event_id": "order-1",
            "type": "purchase",
            "customer": {"email": "Ada@Example.com", "external_id": "u-ada"},
            "amount": 1200,
            "currency": "EUR",
        }
    )
    found = sync_rk.list_customers(email="ada@example.com")
    assert [c.external_id for c in found.data] == ["u-ada"]
    customer = sync_rk.get_customer(found.data[0].id)
    export = sync_rk.export_customer(customer.id)
    assert export.customer.id == customer.id
    assert [(e.event_id, e.type) for e in export.events] == [("order-1", "purchase")]

    sync_rk.delete_customer(customer.id)
    with pytest.raises(NotFoundError):
        sync_rk.get_customer(customer.id)
    [erasure] = list(sync_rk.iter_erasures(subject_id=customer.id))
    assert (erasure.subject_type, erasure.counts["customers"]) == ("customer", 1)


def test_the_newer_problem_codes_have_their_classes() -> None:
    throttled = error_for(429, {"code": "sign_in_throttled"}, {"retry-after": "30"})
    assert isinstance(throttled, SignInThrottledError)
    assert isinstance(throttled, RateLimitError)
    assert throttled.retry_after == 30.0
    late = error_for(408, {"code": "request_body_timeout"}, {})
    assert isinstance(late, RequestBodyTimeoutError)


class SlowBodyOnce(httpx.AsyncBaseTransport):
    """Answers the first request as the server does a body that arrived too late."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if len(self.seen) == 1:
            problem = {"code": "request_body_timeout", "status": 408}
            return httpx.Response(408, json=problem, headers={"Connection": "close"})
        return await self.inner.handle_async_request(request)


async def test_a_body_timeout_is_retried_with_the_same_key(
    app: FastAPI, settings: Settings
) -> None:
    transport = SlowBodyOnce(httpx.ASGITransport(app=app))
    http = httpx.AsyncClient(transport=transport, base_url=BASE)
    retry = Retry(max_retries=2, base=0.0)
    async with AsyncReferkit(
        api_key=await issue_key(settings), http_client=http, retry=retry
    ) as rk:
        created = await rk.create_app({"name": "Retried"})
        assert [a.name async for a in rk.iter_apps()] == ["Retried"]
    assert created.name == "Retried"
    keys = {r.headers["Idempotency-Key"] for r in transport.seen[:2]}
    assert len(keys) == 1
