"""A member's API object assembled from stored values (``member_view``) and create-or-fetch
answering an existing member without loading it into the session (``create_or_fetch_view``):
the same objects, the same JSON, the same fallbacks as validating them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter

from referkit.auth.principal import Principal, Scope
from referkit.db.session import SessionFactory
from referkit.member.schemas import Member, MemberCreate, _validated_view, member_view
from referkit.member.service import MemberService
from referkit.models import Member as MemberRow
from tests.factories import Key, create_member, create_program

BASE = "http://testserver"
_JSON = TypeAdapter(Member)


def _row(**values: Any) -> MemberRow:
    now = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    fields: dict[str, Any] = {
        "id": "mem_01jd9x4k6b8v2q3r5s7t9w1y3z",
        "workspace_id": "ws_1",
        "livemode": True,
        "program_id": "prog_01jd9x4k6b8v2q3r5s7t9w1y3z",
        "email": "jane@example.com",
        "external_id": "user_1",
        "name": "Jane",
        "referral_code": "JANE7K2Q",
        "status": "active",
        "metadata_": {"plan": "pro", "nested": [1, {"a": None}]},
        "created_at": now,
        "updated_at": now,
    }
    fields.update(values)
    return MemberRow(**fields)


def test_a_loaded_row_gives_the_validated_object_and_json() -> None:
    row = _row()
    view = member_view(row, BASE)
    validated = _validated_view(row, BASE)
    assert view == validated
    assert _JSON.dump_json(_JSON.validate_python(view)) == _JSON.dump_json(validated)
    assert view.model_dump(mode="json") == validated.model_dump(mode="json")


def test_a_row_with_a_value_not_loaded_is_validated() -> None:
    row = _row()
    del row.__dict__["name"]  # as an expired attribute: not in the instance's dict
    view = member_view(row, BASE)
    assert view.name is None
    assert view == _validated_view(row, BASE)


def test_a_status_the_api_does_not_know_still_fails() -> None:
    with pytest.raises(ValueError, match="not a valid MemberStatus"):
        member_view(_row(status="frozen"), BASE)


async def _both(
    app: FastAPI, key: Key, program_id: str, body: MemberCreate
) -> tuple[tuple[Member, bool], tuple[Member, bool]]:
    sessions: SessionFactory = app.state.sessions
    principal = Principal(key.workspace_id, key.key_id, Scope.full, True)
    async with sessions.transaction() as session:
        fast = await MemberService(session).create_or_fetch_view(principal, program_id, body, BASE)
        stored_rows = [obj for obj in session.identity_map.values() if isinstance(obj, MemberRow)]
    async with sessions.transaction() as session:
        result = await MemberService(session).create_or_fetch(principal, program_id, body)
        slow = (member_view(result.member, BASE), result.created)
    return (fast, bool(stored_rows)), slow


async def test_an_unchanged_existing_member_is_answered_as_create_or_fetch_does(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    member = await create_member(
        client, key, program["id"], email="Ann@Example.com", external_id="ann", metadata={"x": 1}
    )
    for body in (
        MemberCreate(email="ann@example.com"),
        MemberCreate(external_id="ann"),
        MemberCreate(email="ANN@example.com", external_id="ann"),
    ):
        (fast, loaded), slow = await _both(app, key, program["id"], body)
        assert fast == slow == (Member.model_validate(member), False)
        assert not loaded  # read without the ORM


async def test_a_member_the_call_changes_goes_through_create_or_fetch(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    await create_member(client, key, program["id"], email="bo@example.com")
    sessions: SessionFactory = app.state.sessions
    principal = Principal(key.workspace_id, key.key_id, Scope.full, True)
    body = MemberCreate(email="bo@example.com", external_id="bo", ip="81.2.69.160")
    async with sessions.transaction() as session:
        view, created = await MemberService(session).create_or_fetch_view(
            principal, program["id"], body, BASE
        )
    assert not created
    assert view.external_id == "bo"
    async with sessions.transaction() as session:
        row = await MemberService(session).get(principal, view.id)
        assert (row.external_id, row.ip) == ("bo", "81.2.69.160")
