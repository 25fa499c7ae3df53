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
    outbound_client,
    parse_ipv4,
    private_target,
)
from referkit.worker.runner import Worker
from tests.factories import Key
from tests.kit.resolving import FakeResolver, RecordingNetwork
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


async def test_only_http_urls_with_a_host() -> None:
    assert check_url("https://example.com/x") == "example.com"
    for url in ("ftp://example.com", "file:///etc/passwd", "http:///x", "example.com"):
        with pytest.raises(UnsupportedUrl):
            check_url(url)
    no_dns = FakeResolver({})
    assert await private_target("http://[::1]:8000/", no_dns)
    assert await private_target("http://app.localhost/", no_dns)
    assert await private_target("https://example.com/", no_dns) is None


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


# Hosts in every spelling, and embedded IPv4 -----------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.000.000.001", "127.0.0.1"),
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),  # noqa: S104
        ("10.0x10000", "10.1.0.0"),
        ("93.184.216.34", "93.184.216.34"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("256.0.0.1", None),
        ("1.2.3.256", None),
        ("08.0.0.1", None),  # not octal, not decimal: a name to the resolver
        ("0x", "0.0.0.0"),  # noqa: S104
        ("", None),
    ],
)
def test_numeric_hosts_are_read_as_resolvers_read_them(host: str, address: str | None) -> None:
    parsed = parse_ipv4(host)
    assert (str(parsed) if parsed else None) == address


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("2002:5db8:d822::", True),  # 6to4 of 93.184.216.34
        ("2001:0:7f00:1::", False),  # Teredo, server 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo, client 127.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("::127.0.0.1", False),  # IPv4-compatible (deprecated)
    ],
)
def test_ipv6_carrying_a_private_ipv4_is_not_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


REFUSED_TARGETS = [
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://017700000001/",
    "http://0/",
    "http://0177.0.0.1/",
    "http://127.000.000.001/",
    "http://localhost./",
    "http://LOCALHOST/",
    "http://127.0.0.1./",
    "http://intranet.example.test/",  # resolves to 127.0.0.1
    "http://mixed.example.test/",  # one public answer, one private: refused
    "http://[2002:7f00:1::]/",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fe80::1%25eth0]/",
    "http://evil.example\\@127.0.0.1/",
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",  # full-width digits
]
DNS = {
    "intranet.example.test": [["127.0.0.1"]],
    "mixed.example.test": [["93.184.216.34", "10.0.0.7"]],
    "public.example.test": [["93.184.216.34"]],
}


@pytest.mark.parametrize("url", REFUSED_TARGETS)
async def test_private_targets_are_refused_in_any_spelling(url: str) -> None:
    assert await private_target(url, FakeResolver(DNS)) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://public.example.test/hook",
        "http://93.184.216.34:8080/x",
        "http://[2002:5db8:d822::]/",
        "https://unresolvable.example.test/",  # checked again at every delivery
    ],
)
async def test_public_targets_pass(url: str) -> None:
    assert await private_target(url, FakeResolver(DNS)) is None


# Deliveries connect to the address they checked -------------------------------------------------


async def test_a_delivery_connects_to_the_resolved_address_with_the_name_as_host() -> None:
    with receiving() as receiver:
        port = receiver.url.rsplit(":", 1)[1].split("/")[0]
        resolver = FakeResolver({"hooks.example.test": [["127.0.0.1"]]})
        network = RecordingNetwork()
        async with outbound_client(
            allow_private=True, timeout=5, resolver=resolver, network=network
        ) as client:
            response = await client.post(f"http://hooks.example.test:{port}/hook", content=b"{}")
        assert response.status_code == 200
        assert resolver.asked == ["hooks.example.test"]  # one answer, used for the connection
        assert network.connected == ["127.0.0.1"]
        assert receiver.received[0].headers["host"] == f"hooks.example.test:{port}"


async def test_a_rebinding_name_is_checked_on_the_answer_that_is_connected_to() -> None:
    # The first answer is public, every later one loopback (DNS rebinding).
    resolver = FakeResolver({"rebind.example.test": [["93.184.216.34"], ["127.0.0.1"]]})
    network = RecordingNetwork()
    async with outbound_client(
        allow_private=False, timeout=5, resolver=resolver, network=network
    ) as client:
        with pytest.raises(httpx.ConnectError) as first:
            await client.post("http://rebind.example.test/hook", content=b"{}")
        assert not isinstance(first.value, BlockedAddress)
        assert network.connected == ["93.184.216.34"]  # the checked answer, not a second one
        with pytest.raises(BlockedAddress):
            await client.post("http://rebind.example.test/hook", content=b"{}")
    assert network.connected == ["93.184.216.34"]  # the loopback answer was never connected to
    assert resolver.asked == ["rebind.example.test"] * 2


async def test_a_mixed_answer_connects_only_to_its_public_addresses() -> None:
    resolver = FakeResolver({"mixed.example.test": [["127.0.0.1", "93.184.216.34"]]})
    network = RecordingNetwork()
    async with outbound_client(
        allow_private=False, timeout=5, resolver=resolver, network=network
    ) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post("http://mixed.example.test/hook", content=b"{}")
    assert network.connected == ["93.184.216.34"]


async def test_a_name_resolving_to_loopback_is_blocked_at_delivery() -> None:
    with receiving() as receiver:
        port = receiver.url.rsplit(":", 1)[1].split("/")[0]
        resolver = FakeResolver({"intranet.example.test": [["127.0.0.1"]]})
        async with outbound_client(allow_private=False, timeout=5, resolver=resolver) as client:
            with pytest.raises(BlockedAddress):
                await client.post(f"http://intranet.example.test:{port}/hook", content=b"{}")
        assert receiver.received == []


async def test_numeric_hosts_are_read_at_delivery_as_when_stored() -> None:
    resolver = FakeResolver({})  # knows no names: numeric hosts never reach it
    with receiving() as receiver:
        port = receiver.url.rsplit(":", 1)[1].split("/")[0]
        async with outbound_client(allow_private=False, timeout=5, resolver=resolver) as client:
            with pytest.raises(BlockedAddress):
                await client.post(f"http://0x7f000001:{port}/hook", content=b"{}")
        async with outbound_client(allow_private=True, timeout=5, resolver=resolver) as client:
            response = await client.post(f"http://2130706433:{port}/hook", content=b"{}")
        assert response.status_code == 200
        assert len(receiver.received) == 1
    assert resolver.asked == []
