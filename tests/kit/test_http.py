"""The SSRF guard: which addresses are public, and that guarded connections refuse private
targets on every connection (a real loopback server stands in for the inside network)."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from fastapi import FastAPI

from referkit.config import Settings
from referkit.kit.http import (
    BlockedAddress,
    UnsupportedUrl,
    check_url,
    is_public,
    obviously_private,
    outbound_client,
)
from referkit.worker.runner import Worker
from tests.factories import Key
from tests.webhook.conftest import messages, park_backlog, subscribe
from tests.webhook.receiver import receiving


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("240.0.0.1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_only_http_urls_with_a_host() -> None:
    assert check_url("https://example.com/x") == "example.com"
    for url in ("ftp://example.com", "file:///etc/passwd", "http:///x", "example.com"):
        with pytest.raises(UnsupportedUrl):
            check_url(url)
    assert obviously_private("http://[::1]:8000/")
    assert obviously_private("http://app.localhost/")
    assert not obviously_private("https://example.com/")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_guarded_client_refuses_loopback(host: str) -> None:
    with receiving() as receiver:
        url = receiver.url.replace("127.0.0.1", host)
        async with outbound_client(allow_private=False, timeout=5) as client:
            with pytest.raises(BlockedAddress):
                await client.post(url, content=b"{}")
        async with outbound_client(allow_private=True, timeout=5) as client:
            assert (await client.post(url, content=b"{}")).status_code == 200
        assert len(receiver.received) == 1  # only the allowed client got through


async def test_the_worker_records_a_blocked_delivery(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient, key: Key
) -> None:
    # The endpoint was allowed when created (say, the setting changed since): the guard at
    # connection time still stops the delivery.
    await park_backlog(app, key)
    with receiving() as receiver:
        endpoint = await subscribe(client, key, receiver.url)
        await client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=key.headers)
        guarded = Worker(
            app.state.sessions,
            settings.model_copy(update={"webhook_allow_private_targets": False}),
        )
        try:
            assert await guarded.run_once() == 1
        finally:
            await guarded.aclose()
        assert receiver.received == []
    (message,) = await messages(client, key, endpoint["id"])
    assert message["attempts"][0]["error"].startswith("blocked:")


async def test_redirects_are_not_followed() -> None:
    with receiving(httpx.codes.FOUND) as receiver:
        async with outbound_client(allow_private=True, timeout=5) as client:
            response = await client.post(receiver.url, content=b"{}")
        assert response.status_code == 302
        assert len(receiver.received) == 1
