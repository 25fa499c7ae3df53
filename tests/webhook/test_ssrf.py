"""Webhook and REST hook targets are checked when stored, not only when delivered: every
spelling of a private address, names that resolve to one, and IPv6 forms that carry one are
refused with 422 on create and on update; deliveries connect to the address they checked."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks import Webhook

from referkit.config import Settings
from referkit.kit.http import outbound_client
from referkit.worker.runner import Worker
from tests.conftest import running
from tests.factories import Key, new_key
from tests.kit.resolving import FakeResolver, RecordingNetwork
from tests.kit.test_http import DNS, REFUSED_TARGETS
from tests.webhook.conftest import Clock, park_backlog, subscribe
from tests.webhook.receiver import Receiver

PUBLIC = "https://public.example.test/hooks"


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app that refuses private targets, asking a DNS the test controls."""
    async with running(settings, webhook_allow_private_targets=False) as (app, client):
        app.state.resolver = FakeResolver(DNS)
        yield app, client


def _refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["field"] == field
    assert "private address" in problem["errors"][0]["message"]


async def test_private_targets_are_refused_on_create_and_update(
    guarded: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = guarded
    key = await new_key(app)
    created = await client.post("/api/v1/webhooks", json={"url": PUBLIC}, headers=key.headers)
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]
    for url in REFUSED_TARGETS:
        _refused(
            await client.post("/api/v1/webhooks", json={"url": url}, headers=key.headers), "url"
        )
        _refused(
            await client.patch(
                f"/api/v1/webhooks/{endpoint_id}", json={"url": url}, headers=key.headers
            ),
            "url",
        )
        _refused(
            await client.post(
                "/api/v1/hooks",
                json={"target_url": url, "event": "member.created"},
                headers=key.headers,
            ),
            "target_url",
        )
    stored = await client.get(f"/api/v1/webhooks/{endpoint_id}", headers=key.headers)
    assert stored.json()["url"] == PUBLIC  # no refused update changed it
    listed = await client.get("/api/v1/webhooks", headers=key.headers)
    assert [e["id"] for e in listed.json()["data"]] == [endpoint_id]  # nothing else was stored
    moved = await client.patch(
        f"/api/v1/webhooks/{endpoint_id}",
        json={"url": "http://93.184.216.34/x"},
        headers=key.headers,
    )
    assert moved.status_code == 200


def _loopback_name_from_hosts_file() -> str | None:
    """A name other than localhost that the system resolver answers with a loopback address."""
    try:
        lines = Path("/etc/hosts").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split("#")[0].split()
        if len(fields) < 2 or not ipaddress.ip_address(fields[0]).is_loopback:
            continue
        for name in fields[1:]:
            if "localhost" in name:
                continue
            try:
                socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
            except OSError:
                continue
            return name
    return None


async def test_a_name_the_system_resolves_to_loopback_is_refused(settings: Settings) -> None:
    name = _loopback_name_from_hosts_file()
    if name is None:
        pytest.skip("no name besides localhost maps to loopback in /etc/hosts")
    async with running(settings, webhook_allow_private_targets=False) as (app, client):
        key = await new_key(app)
        response = await client.post(
            "/api/v1/webhooks", json={"url": f"http://{name}:8080/x"}, headers=key.headers
        )
    _refused(response, "url")
    assert "resolves to 127." in response.json()["errors"][0]["message"]


async def test_operators_may_allow_private_targets(client: httpx.AsyncClient, key: Key) -> None:
    # The test settings allow them (the suite delivers to loopback receivers).
    for url in ("http://0x7f000001:9/x", "http://localhost./x", "http://[2002:7f00:1::]/"):
        response = await client.post("/api/v1/webhooks", json={"url": url}, headers=key.headers)
        assert response.status_code == 201, url


async def test_the_worker_delivers_to_the_address_it_resolved(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    key: Key,
    clock: Clock,
    receiver: Receiver,
) -> None:
    await park_backlog(app, key)
    port = receiver.url.rsplit(":", 1)[1].split("/")[0]
    resolver = FakeResolver({"hooks.example.test": [["127.0.0.1"]]})
    network = RecordingNetwork()
    endpoint = await subscribe(client, key, f"http://hooks.example.test:{port}/hook")
    await client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=key.headers)
    http = outbound_client(allow_private=True, timeout=5, resolver=resolver, network=network)
    worker = Worker(app.state.sessions, settings, clock=clock, client=http)
    try:
        assert await worker.run_once() == 1
    finally:
        await http.aclose()
    (received,) = receiver.received
    assert resolver.asked == ["hooks.example.test"]
    assert network.connected == ["127.0.0.1"]  # the resolved address, connected to once
    assert received.headers["host"] == f"hooks.example.test:{port}"  # the name, as Host
    assert Webhook(endpoint["secret"]).verify(received.body, received.headers)["type"] == (
        "webhook.test"
    )
