"""Currencies are ISO 4217 codes wherever an amount is accepted (not XXX, "no currency")."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from referkit.db.session import SessionFactory
from referkit.models import Program
from tests.factories import Key, create_program

NOT_CURRENCIES = ["XXX", "ZZZ", "AAA"]
CASH_RULE = {"recipient": "referrer", "trigger": "referral_qualified", "kind": "cash"}


def _fields(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 422, answer.text
    return [error["field"] for error in answer.json()["errors"]]


@pytest.mark.parametrize("code", NOT_CURRENCIES)
async def test_made_up_currencies_are_refused(
    client: httpx.AsyncClient, key: Key, code: str
) -> None:
    event = {"event_id": uuid.uuid4().hex, "type": "purchase", "amount": 100, "currency": code}
    assert _fields(await client.post("/api/v1/events", json=event, headers=key.headers)) == [
        "currency"
    ]
    program = {
        "name": "Currencies",
        "landing_url": "https://example.com",
        "qualification": {"min_amount": 100, "currency": code},
    }
    answer = await client.post("/api/v1/programs", json=program, headers=key.headers)
    assert _fields(answer) == ["qualification.currency"]
    rule = {**CASH_RULE, "amount": 500, "currency": code.lower()}
    program = {"name": "Rules", "landing_url": "https://example.com", "reward_rules": [rule]}
    answer = await client.post("/api/v1/programs", json=program, headers=key.headers)
    assert _fields(answer) == ["reward_rules.0.currency"]


async def test_real_currencies_are_stored_in_upper_case(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(
        client,
        key,
        qualification={"min_amount": 100, "currency": "chf"},
        reward_rules=[{**CASH_RULE, "amount": 500, "currency": "jpy"}],
    )
    assert program["qualification"]["currency"] == "CHF"
    assert program["reward_rules"][0]["currency"] == "JPY"


async def test_a_currency_stored_before_the_check_is_still_answered(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    sessions: SessionFactory = app.state.sessions
    async with sessions.transaction() as session:
        await session.execute(
            update(Program)
            .where(Program.id == program["id"])
            .values(qualification={**program["qualification"], "currency": "ZZZ"})
        )
    fetched = await client.get(f"/api/v1/programs/{program['id']}", headers=key.headers)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["qualification"]["currency"] == "ZZZ"
    # A change to the qualification must name a real currency.
    patched = await client.patch(
        f"/api/v1/programs/{program['id']}",
        json={"qualification": {"currency": "USD"}},
        headers=key.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["qualification"]["currency"] == "USD"
