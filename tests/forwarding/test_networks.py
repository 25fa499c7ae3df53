"""Google Ads, TikTok and postback receivers get what each network documents, with the same
retry, log, dry-run and test-mode guarantees as Meta (tests/forwarding/test_meta.py)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from referkit.auth.principal import Mode
from referkit.worker.runner import Worker
from tests.factories import Key, new_key
from tests.forwarding.conftest import attributed_install, configure, log, purchase, sha256
from tests.forwarding.receiver import Got, Networks
from tests.mobile.factories import create_app
from tests.webhook.conftest import Clock

GOOGLE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")


@dataclass(frozen=True)
class Case:
    network: str
    click_query: str
    secret: str

    def fields(self, base: str) -> dict[str, Any]:
        if self.network == "google_ads":
            return {
                "credentials": {"developer_token": "dev-tok", "access_token": self.secret},
                "config": {"customer_id": "123-456-7890"},
                "event_map": {"purchase": "987"},
            }
        if self.network == "tiktok":
            return {
                "credentials": {"access_token": self.secret},
                "config": {"tiktok_app_id": "7000123"},
                "event_map": {"purchase": "Purchase"},
            }
        template = (
            f"{base}/pb?click={{click_id}}&ev={{event_name}}&rev={{revenue}}&cur={{currency}}"
            "&inst={install_id}&net={network}"
        )
        return {"config": {"url": template}, "event_map": {"purchase": "buy now"}}


CASES = [
    Case("google_ads", "?gclid=Cj0-gclid/1", "ya29.google-secret"),
    Case("tiktok", "?ttclid=tt-click-9", "tiktok-secret-token"),
    Case("postback", "?gclid=g/1&x=1", ""),
]


def check_google(got: Got, install_id: str) -> None:
    assert got.method == "POST"
    assert got.path == "/gads/v18/customers/1234567890:uploadClickConversions"
    assert got.headers["developer-token"] == "dev-tok"
    assert got.headers["authorization"] == "Bearer ya29.google-secret"
    body = json.loads(got.body)
    assert body["partialFailure"] is True
    (conversion,) = body["conversions"]
    assert conversion["gclid"] == "Cj0-gclid/1"
    assert conversion["conversionAction"] == "customers/1234567890/conversionActions/987"
    assert GOOGLE_TIME.match(conversion["conversionDateTime"])
    assert conversion["conversionValue"] == 25.0
    assert conversion["currencyCode"] == "USD"
    assert conversion["orderId"] == "order-1"


def check_tiktok(got: Got, install_id: str) -> None:
    assert got.method == "POST"
    assert got.path == "/tt/open_api/v1.3/event/track/"
    assert got.headers["access-token"] == "tiktok-secret-token"
    body = json.loads(got.body)
    assert body["event_source"] == "app"
    assert body["event_source_id"] == "7000123"
    (event,) = body["data"]
    assert event["event"] == "Purchase"
    assert event["event_id"] == "order-1"
    assert event["user"]["ttclid"] == "tt-click-9"
    assert event["user"]["email"] == sha256("ann@example.com")
    assert event["user"]["external_id"] == sha256("user-42")
    assert event["properties"] == {"value": 25.0, "currency": "USD"}


def check_postback(got: Got, install_id: str) -> None:
    assert got.method == "GET"
    assert got.body == b""
    path, _, query = got.path.partition("?")
    assert path == "/pb"
    assert "click=g%2F1" in query  # macros are URL-encoded
    assert "ev=buy%20now" in query
    values = parse_qs(query)
    assert values == {
        "click": ["g/1"],
        "ev": ["buy now"],
        "rev": ["25.0"],
        "cur": ["USD"],
        "inst": [install_id],
        "net": ["google_ads"],
    }


CHECKS = {"google_ads": check_google, "tiktok": check_tiktok, "postback": check_postback}


@pytest.mark.parametrize("case", CASES, ids=[c.network for c in CASES])
async def test_attributed_purchase_lands_on_the_third_attempt(
    case: Case,
    client: httpx.AsyncClient,
    key: Key,
    worker: Worker,
    clock: Clock,
    networks: Networks,
) -> None:
    mobile = await create_app(client, key)
    await configure(client, key, mobile["id"], case.network, **case.fields(networks.base))
    install_id = await attributed_install(client, key, mobile["id"], case.click_query)
    stored = await purchase(client, key, mobile["id"], install_id, "order-1")
    dry = await client.post(
        f"/api/v1/apps/{mobile['id']}/integrations/{case.network}/test",
        json={"event_id": stored["id"]},
        headers=key.headers,
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["would_send"] is True
    assert networks.received == []
    networks.then(500, 500, 200)
    for _ in range(3):
        assert await worker.run_once() == 1
        clock.advance(minutes=10)
    received = await networks.wait_for(3)
    assert len(received) == 3
    CHECKS[case.network](received[-1], install_id)

    request = dry.json()["request"]
    assert (request["body"] or "") == received[-1].body.decode()
    assert urlsplit(request["url"]).path == received[-1].path.partition("?")[0]
    if case.secret:
        assert case.secret not in dry.text
    (forward,) = await log(client, key, mobile["id"], case.network)
    assert forward["status"] == "succeeded"
    assert [a["status_code"] for a in forward["attempts"]] == [500, 500, 200]
    if case.secret:
        assert case.secret not in json.dumps(forward)


@pytest.mark.parametrize("case", CASES, ids=[c.network for c in CASES])
async def test_test_mode_purchase_forwards_nothing(
    case: Case, app: FastAPI, client: httpx.AsyncClient, worker: Worker, networks: Networks
) -> None:
    test_key = await new_key(app, mode=Mode.test)
    mobile = await create_app(client, test_key)
    await configure(client, test_key, mobile["id"], case.network, **case.fields(networks.base))
    install_id = await attributed_install(client, test_key, mobile["id"], case.click_query)
    await purchase(client, test_key, mobile["id"], install_id, "order-1")
    assert await worker.run_until_idle() == 0
    assert networks.received == []
    assert await log(client, test_key, mobile["id"], case.network) == []


async def test_google_partial_failure_is_logged_as_a_failure(
    client: httpx.AsyncClient, key: Key, worker: Worker, networks: Networks
) -> None:
    mobile = await create_app(client, key)
    await configure(client, key, mobile["id"], "google_ads", **CASES[0].fields(networks.base))
    install_id = await attributed_install(client, key, mobile["id"], CASES[0].click_query)
    await purchase(client, key, mobile["id"], install_id, "order-1")
    refusal = {"partialFailureError": {"code": 3, "message": "The click was too old."}}
    networks.then((200, json.dumps(refusal).encode()))
    assert await worker.run_once() == 1
    (forward,) = await log(client, key, mobile["id"], "google_ads")
    assert forward["status"] == "pending"  # tried again on the webhook schedule
    assert forward["attempts"][0]["error"] == "partial failure: The click was too old."


async def test_google_needs_a_google_click_id(
    client: httpx.AsyncClient, key: Key, worker: Worker, networks: Networks
) -> None:
    mobile = await create_app(client, key)
    await configure(client, key, mobile["id"], "google_ads", **CASES[0].fields(networks.base))
    install_id = await attributed_install(client, key, mobile["id"], "?ttclid=not-google")
    await purchase(client, key, mobile["id"], install_id, "order-1")
    await worker.run_until_idle()
    assert networks.received == []
    (forward,) = await log(client, key, mobile["id"], "google_ads")
    assert forward["status"] == "skipped"
    assert "gclid" in forward["attempts"][0]["error"]


async def test_retry_sends_a_failed_forward_again(
    client: httpx.AsyncClient, key: Key, worker: Worker, networks: Networks
) -> None:
    mobile = await create_app(client, key)
    await configure(client, key, mobile["id"], "tiktok", **CASES[1].fields(networks.base))
    install_id = await attributed_install(client, key, mobile["id"], CASES[1].click_query)
    await purchase(client, key, mobile["id"], install_id, "order-1")
    networks.then(400)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0  # waits for its schedule…
    (forward,) = await log(client, key, mobile["id"], "tiktok")
    response = await client.post(
        f"/api/v1/apps/{mobile['id']}/integrations/tiktok/log/{forward['id']}/retry",
        headers=key.headers,
    )
    assert response.status_code == 200, response.text
    assert await worker.run_once() == 1  # …unless retried now
    (forward,) = await log(client, key, mobile["id"], "tiktok")
    assert forward["status"] == "succeeded"
    assert [a["status_code"] for a in forward["attempts"]] == [400, 200]
