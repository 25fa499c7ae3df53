"""Delivery through a real loopback receiver: signatures, the retry schedule, the fault matrix
(500, 410, 429/503 + Retry-After, timeouts, resets, redirects), the disable policy, replay and
secret rotation. The worker is driven by the test with a clock it moves forward."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks import Webhook, WebhookVerificationError

from referkit.config import Settings
from referkit.kit.time import utcnow
from referkit.webhook.service import RETRY_SCHEDULE
from referkit.worker.runner import Worker
from tests.factories import Key, create_member, create_program
from tests.webhook.conftest import Clock, messages, park_backlog, subscribe
from tests.webhook.receiver import Receiver, Reply, receiving


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_member_created_is_delivered_signed_within_two_seconds(
    settings: Settings, receiver: Receiver
) -> None:
    # The acceptance path, with the worker running inside the app as `referkit serve` runs it.
    from referkit.app import create_app
    from tests.factories import new_key

    app = create_app(settings.model_copy(update={"worker_in_process": True}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            key = await new_key(app)
            program = await create_program(client, key)
            endpoint = await subscribe(client, key, receiver.url)
            assert endpoint["secret"].startswith("whsec_")
            started = time.monotonic()
            member = await create_member(client, key, program["id"], email="ann@example.com")
            (received,) = await receiver.wait_for(1, within=2.0)
            assert time.monotonic() - started < 2.0

    payload = Webhook(endpoint["secret"]).verify(received.body, received.headers)
    assert payload["type"] == "member.created"
    assert payload["data"]["id"] == member["id"]
    assert payload["data"] == member  # the full API object
    assert received.webhook_id.startswith("msg_")
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 44).verify(received.body, received.headers)


async def test_three_failures_then_success_log_four_attempts_and_one_delivery(
    client: httpx.AsyncClient, key: Key, worker: Worker, clock: Clock, receiver: Receiver
) -> None:
    receiver.then(500, 500, 500, 200)
    endpoint = await subscribe(client, key, receiver.url, ["program.created"])
    await create_program(client, key)
    for _ in range(4):
        assert await worker.run_once() == 1
        assert await worker.run_once() == 0  # not due again yet
        clock.advance(hours=3)
    received = await receiver.wait_for(4)
    assert len({r.webhook_id for r in received}) == 1
    assert [r.reply.status for r in received] == [500, 500, 500, 200]

    (message,) = await messages(client, key, endpoint["id"])
    assert message["status"] == "succeeded"
    assert message["attempt_count"] == 4
    assert [a["status_code"] for a in message["attempts"]] == [500, 500, 500, 200]
    assert message["attempts"][0]["error"] == "HTTP 500"
    assert message["attempts"][-1]["error"] is None
    assert message["delivered_at"] is not None
    assert all(a["duration_ms"] >= 0 for a in message["attempts"])


async def test_failures_walk_the_schedule_then_give_up(
    client: httpx.AsyncClient, key: Key, worker: Worker, clock: Clock
) -> None:
    with receiving(default=Reply(500)) as receiver:
        endpoint = await subscribe(client, key, receiver.url, ["program.created"])
        await create_program(client, key)
        assert await worker.run_once() == 1
        first = clock()
        for offset in RETRY_SCHEDULE:
            (message,) = await messages(client, key, endpoint["id"])
            due = _at(message["next_attempt_at"])
            # Each retry is due at its offset from the first attempt, give or take 10 %.
            assert offset * 0.9 - timedelta(seconds=1) <= due - first <= offset * 1.1
            clock.offset += due - clock() + timedelta(seconds=1)
            assert await worker.run_once() == 1
        assert await worker.run_once() == 0
        assert len(receiver.received) == 1 + len(RETRY_SCHEDULE)

    (message,) = await messages(client, key, endpoint["id"], status="failed")
    assert message["attempt_count"] == 10
    assert message["next_attempt_at"] is None
    assert len(message["attempts"]) == 10


async def test_410_disables_the_endpoint_and_enabling_resumes_pending_messages(
    client: httpx.AsyncClient, key: Key, worker: Worker, receiver: Receiver
) -> None:
    receiver.then(410)
    endpoint = await subscribe(client, key, receiver.url)
    program = await create_program(client, key)
    assert await worker.run_once() == 1
    got = (await client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=key.headers)).json()
    assert got["enabled"] is False
    assert got["disabled_reason"] == "gone"
    # Disabled: nothing more is sent, new events are not queued for it.
    await client.patch(f"/api/v1/programs/{program['id']}", json={"name": "x"}, headers=key.headers)
    assert await worker.run_once() == 0
    kinds = {m["event_type"]: m for m in await messages(client, key, endpoint["id"])}
    assert set(kinds) == {"program.created", "webhook.disabled"}
    assert kinds["webhook.disabled"]["payload"]["data"]["reason"] == "gone"

    enabled = await client.patch(
        f"/api/v1/webhooks/{endpoint['id']}", json={"enabled": True}, headers=key.headers
    )
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_reason"] is None
    assert await worker.run_once() == 2
    received = await receiver.wait_for(3)
    # The same message, resumed (the two pending messages may arrive in either order).
    assert received[0].webhook_id in {r.webhook_id for r in received[1:]}
    assert {m["status"] for m in await messages(client, key, endpoint["id"])} == {"succeeded"}


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(
    client: httpx.AsyncClient, key: Key, worker: Worker, clock: Clock, status: int
) -> None:
    later = format_datetime(utcnow() + timedelta(minutes=20), usegmt=True)
    retry_after = "120" if status == 429 else later
    with receiving(Reply(status, {"Retry-After": retry_after})) as receiver:
        endpoint = await subscribe(client, key, receiver.url)
        await create_program(client, key)
        assert await worker.run_once() == 1
        (message,) = await messages(client, key, endpoint["id"])
        wait = _at(message["next_attempt_at"]) - clock()
        if status == 429:
            assert timedelta(seconds=110) < wait <= timedelta(seconds=121)
        else:
            assert timedelta(minutes=19) < wait <= timedelta(minutes=20, seconds=1)
        clock.advance(seconds=wait.total_seconds() - 5)
        assert await worker.run_once() == 0  # not before the receiver asked
        clock.advance(seconds=10)
        assert await worker.run_once() == 1
        assert len(receiver.received) == 2
    (message,) = await messages(client, key, endpoint["id"])
    assert message["status"] == "succeeded"
    assert [a["status_code"] for a in message["attempts"]] == [status, 200]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(delay=1.5), "timed out after 0.5 s"),
        (Reply(reset=True), ""),
        (Reply(302, {"Location": "https://example.com/elsewhere"}), "redirect to"),
    ],
    ids=["timeout", "reset", "redirect"],
)
async def test_faults_are_logged_and_retried(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    key: Key,
    clock: Clock,
    reply: Reply,
    error: str,
) -> None:
    await park_backlog(app, key)
    quick = settings.model_copy(update={"webhook_timeout_seconds": 0.5})
    worker = Worker(app.state.sessions, quick, clock=clock)
    try:
        with receiving(reply) as receiver:
            endpoint = await subscribe(client, key, receiver.url)
            await create_program(client, key)
            assert await worker.run_once() == 1
            (message,) = await messages(client, key, endpoint["id"])
            assert message["status"] == "pending"
            (attempt,) = message["attempts"]
            assert attempt["error"]
            assert error in attempt["error"]
            assert attempt["status_code"] == (302 if reply.status == 302 else None)
            assert len(receiver.received) == 1  # the redirect was not followed
            clock.advance(seconds=6)
            assert await worker.run_once() == 1
    finally:
        await worker.aclose()
    (message,) = await messages(client, key, endpoint["id"])
    assert message["status"] == "succeeded"
    assert message["attempt_count"] == 2


async def test_fifty_failing_messages_in_a_row_disable_the_endpoint(
    client: httpx.AsyncClient, key: Key, worker: Worker
) -> None:
    with receiving(default=Reply(500)) as receiver:
        endpoint = await subscribe(client, key, receiver.url)
        for _ in range(50):
            sent = await client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=key.headers)
            assert sent.status_code == 202
        assert await worker.run_until_idle() == 50
    got = (await client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=key.headers)).json()
    assert got == {**got, "enabled": False, "disabled_reason": "failing"}
    disabled = await messages(client, key, endpoint["id"], type="webhook.disabled")
    assert len(disabled) == 1


async def test_five_days_of_failure_disable_the_endpoint_and_a_success_resets(
    client: httpx.AsyncClient, key: Key, worker: Worker, clock: Clock
) -> None:
    with receiving(default=Reply(500)) as receiver:
        endpoint = await subscribe(client, key, receiver.url)
        path = f"/api/v1/webhooks/{endpoint['id']}"
        await client.post(f"{path}/test", headers=key.headers)
        assert await worker.run_once() == 1  # failing since day 0
        clock.advance(days=4)
        receiver.then(200)
        assert await worker.run_once() == 1  # the retry succeeds: the failure streak ends
        await client.post(f"{path}/test", headers=key.headers)
        assert await worker.run_once() == 1  # failing since day 4
        clock.advance(days=4)
        assert await worker.run_once() == 1
        # Day 8: failing for 4 days (8 without the reset); still enabled.
        assert (await client.get(path, headers=key.headers)).json()["enabled"] is True
        clock.advance(days=1, minutes=1)
        assert await worker.run_once() == 1
    got = (await client.get(path, headers=key.headers)).json()
    assert (got["enabled"], got["disabled_reason"]) == (False, "failing")


async def test_retry_redelivers_with_the_same_webhook_id(
    client: httpx.AsyncClient, key: Key, worker: Worker, receiver: Receiver
) -> None:
    endpoint = await subscribe(client, key, receiver.url)
    tested = await client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=key.headers)
    assert tested.status_code == 202
    assert tested.json()["event_type"] == "webhook.test"
    await worker.run_until_idle()
    retried = await client.post(
        f"/api/v1/webhooks/messages/{tested.json()['id']}/retry", headers=key.headers
    )
    assert retried.status_code == 202
    assert retried.json()["status"] == "pending"
    assert len(retried.json()["attempts"]) == 1
    await worker.run_until_idle()
    first, second = await receiver.wait_for(2)
    assert first.webhook_id == second.webhook_id == tested.json()["id"]
    assert first.body == second.body
    (message,) = await messages(client, key, endpoint["id"])
    assert (message["status"], message["attempt_count"]) == ("succeeded", 2)


async def test_rotated_secret_signs_with_both_for_a_day(
    client: httpx.AsyncClient, key: Key, worker: Worker, receiver: Receiver
) -> None:
    endpoint = await subscribe(client, key, receiver.url)
    rotated = await client.post(
        f"/api/v1/webhooks/{endpoint['id']}/rotate-secret", headers=key.headers
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != endpoint["secret"]
    expires = _at(rotated.json()["previous_secret_expires_at"]) - utcnow()
    assert timedelta(hours=23) < expires <= timedelta(hours=24)
    await client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=key.headers)
    await worker.run_until_idle()
    (received,) = await receiver.wait_for(1)
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint["secret"], new_secret):
        assert Webhook(secret).verify(received.body, received.headers)["type"] == "webhook.test"


async def test_events_of_every_resource_reach_subscribers(
    client: httpx.AsyncClient, key: Key, worker: Worker, receiver: Receiver
) -> None:
    everything = await subscribe(client, key, receiver.url, ["*"])
    only_status = await subscribe(client, key, receiver.url, ["referral.status_changed"])
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"], email="ref@example.com")
    # Fetching an existing member is not a change: no event.
    await create_member(client, key, program["id"], email="ref@example.com")
    await client.patch(f"/api/v1/members/{member['id']}", json={"name": "R"}, headers=key.headers)
    referral = (
        await client.post(
            "/api/v1/referrals",
            json={"referral_code": member["referral_code"], "referee": {"email": "f@example.com"}},
            headers=key.headers,
        )
    ).json()
    path = f"/api/v1/referrals/{referral['id']}"
    await client.patch(path, json={"note": "hi"}, headers=key.headers)
    await client.patch(path, json={"status": "qualified"}, headers=key.headers)
    await client.delete(f"/api/v1/members/{member['id']}", headers=key.headers)
    await client.delete(f"/api/v1/programs/{program['id']}", headers=key.headers)

    types = [m["event_type"] for m in reversed(await messages(client, key, everything["id"]))]
    assert types == [
        "program.created",
        "member.created",
        "member.updated",
        "referral.created",
        "referral.updated",
        "referral.updated",
        "referral.status_changed",
        "member.deleted",
        "program.deleted",
    ]
    (changed,) = await messages(client, key, only_status["id"])
    data = changed["payload"]["data"]
    assert (data["id"], data["status"]) == (referral["id"], "qualified")
    await worker.run_until_idle()
    received = await receiver.wait_for(10)
    bodies = [json.loads(r.body) for r in received]
    assert sorted(b["type"] for b in bodies).count("referral.status_changed") == 2
    deleted = next(b for b in bodies if b["type"] == "member.deleted")
    assert deleted["data"]["email"] is None  # erased before it was sent


async def test_linking_an_external_id_to_a_member_is_an_update(
    client: httpx.AsyncClient, key: Key
) -> None:
    endpoint = await subscribe(client, key, "https://hooks.example.com/x", ["member.updated"])
    program = await create_program(client, key)
    member = await create_member(client, key, program["id"], email="link@example.com")
    assert await messages(client, key, endpoint["id"]) == []
    linked = await create_member(
        client, key, program["id"], email="link@example.com", external_id="u-9"
    )
    assert linked["id"] == member["id"]
    (message,) = await messages(client, key, endpoint["id"])
    assert message["payload"]["data"]["external_id"] == "u-9"
