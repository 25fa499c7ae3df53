"""The SDK against the live app: typed results, create-or-fetch, cursor iteration, typed
errors, retries with one idempotency key, webhook verification, and coverage of the API."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from referkit_client import (
    OPERATIONS,
    AsyncReferkit,
    InvalidTransitionError,
    NotFoundError,
    Referkit,
    Retry,
    ValidationError,
    WebhookVerificationError,
    verify_webhook,
)
from referkit_client.models import MemberCreate, ProgramCreate, RefereeInput, ReferralCreate
from standardwebhooks import Webhook

from referkit.config import Settings
from tests.conftest import BASE, issue_key

RULES = [
    {
        "recipient": "referrer",
        "trigger": "referral_qualified",
        "kind": "cash",
        "amount": 2000,
        "currency": "USD",
        "description": "$20",
    }
]


def test_every_openapi_operation_has_a_method_on_both_clients(app_spec: dict[str, Any]) -> None:
    operation_ids = {op["operationId"] for ops in app_spec["paths"].values() for op in ops.values()}
    missing = sorted(operation_ids - set(OPERATIONS))
    assert not missing, f"operations without an SDK method: {missing}"
    for name in OPERATIONS:
        assert callable(getattr(Referkit, name)), name
        assert callable(getattr(AsyncReferkit, name)), name


@pytest.fixture(scope="module")
def app_spec() -> dict[str, Any]:
    from referkit.app import create_app

    spec: dict[str, Any] = create_app(Settings(secret_key="s" * 40)).openapi()
    return spec


def test_every_problem_code_has_an_error_class() -> None:
    from referkit_client.errors import _BY_CODE

    from referkit.errors import PROBLEM_CODES

    assert sorted(set(PROBLEM_CODES) - set(_BY_CODE)) == []


async def test_business_refusals_raise_their_own_class(rk: AsyncReferkit) -> None:
    from referkit_client.errors import SelfReferralError

    program = await rk.create_program({"name": "Self", "landing_url": "https://example.com"})
    member = await rk.create_member(program.id, {"email": "me@example.com"})
    with pytest.raises(SelfReferralError) as caught:
        await rk.create_referral(
            {"referral_code": member.referral_code, "referee": {"email": "me@example.com"}}
        )
    assert isinstance(caught.value, ValidationError)


async def test_the_referral_path_with_typed_models(rk: AsyncReferkit) -> None:
    program = await rk.create_program(
        ProgramCreate(name="Spring", landing_url="https://example.com/signup", reward_rules=RULES)
    )
    member = await rk.create_member(program.id, MemberCreate(email="jane@example.com"))
    again = await rk.create_member(program.id, {"email": "jane@example.com"})
    assert again.id == member.id
    assert member.referral_link.endswith("/r/" + member.referral_code)
    referral = await rk.create_referral(
        ReferralCreate(
            referral_code=member.referral_code, referee=RefereeInput(email="f@example.com")
        )
    )
    assert referral.status == "pending"
    approved = await rk.update_referral(referral.id, status="approved")
    assert approved.status == "approved"
    with pytest.raises(InvalidTransitionError) as caught:
        await rk.update_referral(referral.id, status="pending")
    assert caught.value.code == "invalid_transition"
    rewards = [r async for r in rk.iter_rewards(referral_id=referral.id)]
    assert [(r.amount, r.currency) for r in rewards] == [(2000, "USD")]
    issued = await rk.issue_reward(rewards[0].id)
    assert issued.status == "issued"
    breakdown = await rk.get_program_breakdown(program.id, group_by="country")
    assert breakdown.group_by == "country"
    assert breakdown.totals.signups == 1  # the referral, by code: its country is unknown
    assert [(g.value, g.signups) for g in breakdown.groups] == [(None, 1)]
    links = await rk.list_links(member_id=member.id)
    stats = await rk.get_link_stats(links.data[0].id, group_by="device")
    assert stats.link_id == links.data[0].id
    assert stats.totals.clicks == 0  # nobody clicked: the referral came with the code
    assert stats.groups == []


async def test_embed_token_reads_the_dashboard(rk: AsyncReferkit) -> None:
    program = await rk.create_program({"name": "Embed", "landing_url": "https://example.com"})
    issued = await rk.create_program_embed_token(program.id, {"email": "e@example.com"})
    me = await rk.get_embed_me(issued.token)
    assert issued.url.endswith(issued.token)
    assert me.model_dump()["member"]["referral_link"].endswith(
        "/r/" + me.model_dump()["member"]["referral_code"]
    )


async def test_iterators_follow_the_cursor(rk: AsyncReferkit) -> None:
    program = await rk.create_program({"name": "Many", "landing_url": "https://example.com"})
    for n in range(5):
        await rk.create_member(program.id, {"email": f"m{n}@example.com"})
    first = await rk.list_members(program.id, limit=2)
    assert len(first.data) == 2
    assert first.meta.has_more
    emails = [m.email async for m in rk.iter_members(program.id, limit=2)]
    assert sorted(emails) == [f"m{n}@example.com" for n in range(5)]


async def test_errors_are_typed_by_problem_code(rk: AsyncReferkit) -> None:
    with pytest.raises(NotFoundError) as missing:
        await rk.get_member("mem_01jd9x4k6b8v2q3r5s7t9w1y3z")
    assert missing.value.status == 404
    with pytest.raises(ValidationError) as invalid:
        await rk.create_program({"name": "", "landing_url": "nope"})
    assert {e["field"] for e in invalid.value.errors} >= {"name", "landing_url"}


class Flaky(httpx.AsyncBaseTransport):
    """Fails the first requests (a dropped connection, then a 429), then passes through."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if len(self.seen) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if len(self.seen) == 2:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"code": "rate_limited"})
        if len(self.seen) == 3:
            # The write reaches the server but the answer is lost: the retry must not repeat it.
            await self.inner.handle_async_request(request)
            raise httpx.ReadError("connection reset", request=request)
        return await self.inner.handle_async_request(request)


async def test_retries_reuse_one_idempotency_key(app: FastAPI, settings: Settings) -> None:
    secret = await issue_key(settings)
    flaky = Flaky(httpx.ASGITransport(app=app))
    http = httpx.AsyncClient(transport=flaky, base_url=BASE)
    retry = Retry(max_retries=4, base=0.0)
    async with AsyncReferkit(api_key=secret, http_client=http, retry=retry) as rk:
        program = await rk.create_program({"name": "Once", "landing_url": "https://example.com"})
        programs = [p async for p in rk.iter_programs()]
    assert [p.id for p in programs] == [program.id]
    keys = {r.headers["Idempotency-Key"] for r in flaky.seen[:4]}
    assert len(keys) == 1


def test_sync_client_against_a_running_server(sync_rk: Referkit) -> None:
    program = sync_rk.create_program({"name": "Sync", "landing_url": "https://example.com"})
    member = sync_rk.create_member(program.id, {"external_id": "u-1", "name": "Sam"})
    assert sync_rk.get_member(member.id).external_id == "u-1"
    assert [m.id for m in sync_rk.iter_members(program.id)] == [member.id]
    with pytest.raises(NotFoundError):
        sync_rk.get_program("prog_01jd9x4k6b8v2q3r5s7t9w1y3z")


def test_verify_webhook_accepts_signed_and_rejects_tampered() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    payload = json.dumps({"type": "member.created", "data": {"id": "mem_1"}})
    stamp = int(time.time())
    from datetime import UTC, datetime

    signature = Webhook(secret).sign("msg_1", datetime.fromtimestamp(stamp, UTC), payload)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }
    assert verify_webhook(payload, headers, secret)["data"]["id"] == "mem_1"
    with pytest.raises(WebhookVerificationError):
        verify_webhook(payload.replace("mem_1", "mem_2"), headers, secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(payload, headers, secret, now=stamp + 3600)


def test_code_using_the_client_passes_mypy_strict() -> None:
    from pathlib import Path

    from mypy import api

    root = Path(__file__).resolve().parents[1]
    out, err, status = api.run(
        ["--strict", "--no-incremental", str(root / "examples"), str(root / "src")]
    )
    assert status == 0, out + err
