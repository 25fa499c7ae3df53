"""Programs over HTTP: defaults, slugs, CRUD, nested-settings merge, reward rules, validation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import Key, create_member, create_program, create_referral, new_key

PROGRAMS = "/api/v1/programs"

CASH_RULE: dict[str, Any] = {
    "recipient": "referrer",
    "trigger": "referral_qualified",
    "kind": "cash",
    "amount": 2000,
    "currency": "usd",
}
POINTS_RULE: dict[str, Any] = {
    "recipient": "referee",
    "trigger": "referral_created",
    "kind": "points",
    "amount": 100,
}


async def _create(client: httpx.AsyncClient, key: Key, **fields: Any) -> httpx.Response:
    body = {"name": "Spring referrals", "landing_url": "https://example.com/signup", **fields}
    return await client.post(PROGRAMS, json=body, headers=key.headers)


async def _patch(
    client: httpx.AsyncClient, key: Key, program_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(f"{PROGRAMS}/{program_id}", json=body, headers=key.headers)


def _fields(response: httpx.Response) -> list[str]:
    return [error["field"] for error in response.json().get("errors", [])]


# --- create ------------------------------------------------------------------------------------


async def test_create_with_only_required_fields_gets_defaults(
    client: httpx.AsyncClient, key: Key
) -> None:
    response = await client.post(
        PROGRAMS,
        json={"name": "Give $20, Get $20!", "landing_url": "https://example.com/signup"},
        headers=key.headers,
    )
    assert response.status_code == 201, response.text
    program = response.json()
    assert program["id"].startswith("prog_")
    assert program["name"] == "Give $20, Get $20!"
    assert program["slug"] == "give-20-get-20"
    assert program["status"] == "active"
    assert program["livemode"] is True
    assert program["landing_url"] == "https://example.com/signup"
    assert program["app_id"] is None
    assert program["allowed_origins"] == []
    assert program["attribution"] == {"model": "last_click", "window_days": 30}
    assert program["qualification"] == {
        "event": "purchase",
        "min_amount": None,
        "currency": None,
        "within_days": None,
        "on_refund": "deny",
    }
    assert program["reward_rules"] == []
    assert program["fraud"] == {
        "mode": "flag",
        "self_referral": True,
        "max_referrals_per_member_per_day": None,
        "max_referrals_per_member_per_hour": None,
        "disposable_emails": True,
        "blocked_emails": [],
        "blocked_domains": [],
        "blocked_ip_ranges": [],
        "same_device": True,
    }
    assert program["created_at"] == program["updated_at"]

    fetched = await client.get(f"{PROGRAMS}/{program['id']}", headers=key.headers)
    assert fetched.status_code == 200
    assert fetched.json() == program


async def test_create_with_every_setting(client: httpx.AsyncClient, key: Key) -> None:
    response = await _create(
        client,
        key,
        slug="vip",
        status="paused",
        allowed_origins=["https://App.Example.com/", "http://localhost:3000"],
        attribution={"model": "first_click", "window_days": 7},
        qualification={"event": "signup", "min_amount": 500, "currency": "eur", "within_days": 14},
        reward_rules=[CASH_RULE, POINTS_RULE],
        fraud={"mode": "block", "self_referral": False, "max_referrals_per_member_per_day": 5},
    )
    assert response.status_code == 201, response.text
    program = response.json()
    assert program["slug"] == "vip"
    assert program["status"] == "paused"
    assert program["allowed_origins"] == ["http://localhost:3000", "https://app.example.com"]
    assert program["attribution"] == {"model": "first_click", "window_days": 7}
    assert program["qualification"] == {
        "event": "signup",
        "min_amount": 500,
        "currency": "EUR",
        "within_days": 14,
        "on_refund": "deny",
    }
    assert program["fraud"] == {
        "mode": "block",
        "self_referral": False,
        "max_referrals_per_member_per_day": 5,
        "max_referrals_per_member_per_hour": None,
        "disposable_emails": True,
        "blocked_emails": [],
        "blocked_domains": [],
        "blocked_ip_ranges": [],
        "same_device": True,
    }
    cash, points = program["reward_rules"]
    assert cash["id"].startswith("rule_")
    assert points["id"].startswith("rule_")
    assert cash["id"] != points["id"]
    assert (cash["kind"], cash["amount"], cash["currency"]) == ("cash", 2000, "USD")
    assert (points["kind"], points["amount"], points["currency"]) == ("points", 100, None)
    assert cash["hold_days"] == 0
    assert cash["description"] == ""


async def test_a_read_answers_what_the_write_answered(client: httpx.AsyncClient, key: Key) -> None:
    """A read answers from the program's columns, a write from the stored object: the same
    JSON, byte for byte, every setting and embed option included."""
    created = await _create(
        client,
        key,
        allowed_origins=["https://app.example.com"],
        attribution={"model": "first_click", "window_days": 7},
        qualification={"event": "signup", "min_amount": 500, "currency": "eur", "within_days": 14},
        reward_rules=[CASH_RULE, POINTS_RULE],
        fraud={
            "mode": "block",
            "blocked_domains": ["spam.example"],
            "blocked_ip_ranges": ["10.0.0.0/8"],
        },
        embed={"theme": "dark"},
    )
    assert created.status_code == 201, created.text
    url = f"/api/v1/programs/{created.json()['id']}"
    read = await client.get(url, headers=key.headers)
    assert read.content == created.content
    changed = await client.patch(url, json={"name": "Renamed"}, headers=key.headers)
    assert changed.status_code == 200, changed.text
    assert (await client.get(url, headers=key.headers)).content == changed.content


async def test_slug_is_made_from_the_name_and_collisions_get_a_suffix(
    client: httpx.AsyncClient, key: Key, app: FastAPI
) -> None:
    slugs = [(await _create(client, key, name="Summer Sale")).json()["slug"] for _ in range(3)]
    assert slugs == ["summer-sale", "summer-sale-2", "summer-sale-3"]
    accented = await _create(client, key, name="  Café Été  ")
    assert accented.json()["slug"] == "cafe-ete"
    nothing_usable = await _create(client, key, name="!!!")
    assert nothing_usable.json()["slug"] == "program"

    # Slugs are per workspace: another workspace starts again without a suffix.
    other = await new_key(app)
    elsewhere = await _create(client, other, name="Summer Sale")
    assert elsewhere.json()["slug"] == "summer-sale"


async def test_explicit_duplicate_slug_is_a_conflict(client: httpx.AsyncClient, key: Key) -> None:
    first = await _create(client, key, slug="friends")
    assert first.status_code == 201
    again = await _create(client, key, name="Other", slug="friends")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    assert again.headers["content-type"] == "application/problem+json"

    # An auto-generated slug is taken just the same.
    generated = await _create(client, key, name="Autumn")
    clash = await _create(client, key, name="x", slug=generated.json()["slug"])
    assert clash.status_code == 409


@pytest.mark.parametrize("slug", ["Has-Caps", "-leading-dash", "under_score", "", "a" * 81])
async def test_invalid_slug_is_rejected(client: httpx.AsyncClient, key: Key, slug: str) -> None:
    response = await _create(client, key, slug=slug)
    assert response.status_code == 422
    assert _fields(response) == ["slug"]


async def test_server_owned_and_unknown_fields_are_rejected(
    client: httpx.AsyncClient, key: Key
) -> None:
    for extra in ({"id": "prog_x"}, {"created_at": "2024-01-01T00:00:00Z"}, {"colour": "red"}):
        response = await _create(client, key, **extra)
        assert response.status_code == 422, extra


async def test_name_and_landing_url_are_required(client: httpx.AsyncClient, key: Key) -> None:
    missing_url = await client.post(PROGRAMS, json={"name": "x"}, headers=key.headers)
    assert missing_url.status_code == 422
    assert _fields(missing_url) == ["landing_url"]
    missing_name = await client.post(
        PROGRAMS, json={"landing_url": "https://example.com"}, headers=key.headers
    )
    assert missing_name.status_code == 422
    assert _fields(missing_name) == ["name"]
    blank_name = await _create(client, key, name="   ")
    assert blank_name.status_code == 422


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/file",
        "https://user:secret@example.com/",
        "https://user@example.com/",
        "https://example.com/a b",
        "https://exa\tmple.com/",
        "example.com/signup",
        "/signup",
        "https://",
        "javascript:alert(1)",
        "https://example.com:0/",
        "https://example.com:99999/",
        "https://example.com/" + "a" * 2100,
    ],
)
async def test_bad_landing_url_is_rejected(client: httpx.AsyncClient, key: Key, url: str) -> None:
    response = await _create(client, key, landing_url=url)
    assert response.status_code == 422, url
    assert response.json()["code"] == "validation_error"
    assert _fields(response) == ["landing_url"]

    program = await create_program(client, key)
    patched = await _patch(client, key, program["id"], {"landing_url": url})
    assert patched.status_code == 422, url


@pytest.mark.parametrize(
    "origin",
    [
        "https://example.com/path",
        "https://example.com?x=1",
        "https://example.com/#frag",
        "ftp://example.com",
        "example.com",
        "https://user:pw@example.com",
        "*",
    ],
)
async def test_bad_origin_is_rejected(client: httpx.AsyncClient, key: Key, origin: str) -> None:
    response = await _create(client, key, allowed_origins=["https://ok.example.com", origin])
    assert response.status_code == 422, origin
    assert all(field.startswith("allowed_origins") for field in _fields(response))


async def test_origins_are_normalized_and_deduplicated(client: httpx.AsyncClient, key: Key) -> None:
    response = await _create(
        client,
        key,
        allowed_origins=[
            "https://B.example.com/",
            "https://b.example.com",
            "https://a.example.com",
        ],
    )
    assert response.status_code == 201
    assert response.json()["allowed_origins"] == ["https://a.example.com", "https://b.example.com"]


@pytest.mark.parametrize(
    "rule",
    [
        # milestone needs milestone_count, and milestone_count needs milestone
        {**POINTS_RULE, "trigger": "milestone"},
        {**POINTS_RULE, "milestone_count": 5},
        # cash needs a currency and an amount or a percent
        {**CASH_RULE, "currency": None},
        {**CASH_RULE, "amount": None},
        {**CASH_RULE, "kind": "credit", "currency": None},
        # percent only with referral_qualified
        {**CASH_RULE, "amount": None, "percent": 10, "trigger": "referral_created"},
        {**CASH_RULE, "amount": None, "percent": 10, "trigger": "milestone", "milestone_count": 3},
        # amount and percent together
        {**CASH_RULE, "percent": 10},
        # coupon needs a coupon_pool
        {"recipient": "referee", "trigger": "referral_created", "kind": "coupon"},
        # points have no currency; custom needs a description; max_amount caps percent only
        {**POINTS_RULE, "currency": "USD"},
        {"recipient": "referrer", "trigger": "referral_created", "kind": "custom"},
        {**CASH_RULE, "max_amount": 500},
        # ranges and enums
        {**CASH_RULE, "amount": 0},
        {**CASH_RULE, "amount": None, "percent": 101},
        {**CASH_RULE, "currency": "US"},
        {**CASH_RULE, "recipient": "nobody"},
        {**CASH_RULE, "hold_days": -1},
    ],
)
async def test_invalid_reward_rule_is_rejected(
    client: httpx.AsyncClient, key: Key, rule: dict[str, Any]
) -> None:
    rule = {name: value for name, value in rule.items() if value is not None}
    response = await _create(client, key, reward_rules=[rule])
    assert response.status_code == 422, rule
    assert response.json()["code"] == "validation_error"
    assert all(field.startswith("reward_rules") for field in _fields(response))

    program = await create_program(client, key)
    patched = await _patch(client, key, program["id"], {"reward_rules": [rule]})
    assert patched.status_code == 422, rule


@pytest.mark.parametrize(
    "rule",
    [
        {**CASH_RULE, "amount": None, "percent": 12.5, "max_amount": 5000},
        {**POINTS_RULE, "trigger": "milestone", "milestone_count": 10},
        {
            "recipient": "referee",
            "trigger": "referral_created",
            "kind": "coupon",
            "coupon_pool": "W",
        },
        {
            "recipient": "referrer",
            "trigger": "referral_created",
            "kind": "custom",
            "description": "T",
        },
        {**CASH_RULE, "kind": "credit", "hold_days": 30, "max_per_member": 3},
    ],
)
async def test_valid_reward_rules_are_accepted(
    client: httpx.AsyncClient, key: Key, rule: dict[str, Any]
) -> None:
    rule = {name: value for name, value in rule.items() if value is not None}
    response = await _create(client, key, reward_rules=[rule])
    assert response.status_code == 201, response.text
    (stored,) = response.json()["reward_rules"]
    for name, value in rule.items():
        assert stored[name] == (value.upper() if name == "currency" else value)


async def test_rule_ids_are_assigned_by_the_server(client: httpx.AsyncClient, key: Key) -> None:
    response = await _create(client, key, reward_rules=[{**CASH_RULE, "id": "rule_mine"}])
    assert response.status_code == 422
    assert _fields(response) == ["reward_rules"]


async def test_min_amount_needs_a_currency(client: httpx.AsyncClient, key: Key) -> None:
    response = await _create(client, key, qualification={"min_amount": 1000})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"

    program = await create_program(client, key)
    patched = await _patch(client, key, program["id"], {"qualification": {"min_amount": 1000}})
    assert patched.status_code == 422
    assert patched.json()["code"] == "validation_error"
    unchanged = await client.get(f"{PROGRAMS}/{program['id']}", headers=key.headers)
    assert unchanged.json()["qualification"]["min_amount"] is None

    both = await _patch(
        client, key, program["id"], {"qualification": {"min_amount": 1000, "currency": "gbp"}}
    )
    assert both.status_code == 200
    assert both.json()["qualification"]["currency"] == "GBP"
    # Once a currency is stored, sending min_amount alone merges with it.
    alone = await _patch(client, key, program["id"], {"qualification": {"min_amount": 1}})
    assert alone.status_code == 200
    assert alone.json()["qualification"] == {
        "event": "purchase",
        "min_amount": 1,
        "currency": "GBP",
        "within_days": None,
        "on_refund": "deny",
    }
    # ... and removing the currency while min_amount stays is refused.
    orphaned = await _patch(client, key, program["id"], {"qualification": {"currency": None}})
    assert orphaned.status_code == 422


async def test_app_id_is_refused_while_no_apps_exist(client: httpx.AsyncClient, key: Key) -> None:
    response = await _create(client, key, app_id="app_01jd9x4k6b8v2q3r5s7t9w1y3z")
    assert response.status_code == 422
    assert _fields(response) == ["app_id"]

    program = await create_program(client, key)
    patched = await _patch(client, key, program["id"], {"app_id": "app_01jd9x4k6b8v2q3r5s7t9w1y3z"})
    assert patched.status_code == 422
    assert _fields(patched) == ["app_id"]
    cleared = await _patch(client, key, program["id"], {"app_id": None})
    assert cleared.status_code == 200
    assert cleared.json()["app_id"] is None


# --- read and list -----------------------------------------------------------------------------


async def test_get_unknown_program_is_404(
    client: httpx.AsyncClient, key: Key, app: FastAPI
) -> None:
    for program_id in ("prog_01jd9x4k6b8v2q3r5s7t9w1y3z", "nope", "mem_01jd9x4k6b8v2q3r5s7t9w1y3z"):
        response = await client.get(f"{PROGRAMS}/{program_id}", headers=key.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

    # Another workspace's program does not exist for this key.
    other = await new_key(app)
    theirs = await create_program(client, other)
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method,
            f"{PROGRAMS}/{theirs['id']}",
            headers=key.headers,
            json={"name": "mine"} if method == "PATCH" else None,
        )
        assert response.status_code == 404, method
    still = await client.get(f"{PROGRAMS}/{theirs['id']}", headers=other.headers)
    assert still.json()["name"] == theirs["name"]


async def test_list_with_status_filter(client: httpx.AsyncClient, key: Key, app: FastAPI) -> None:
    active = await create_program(client, key)
    paused = await create_program(client, key, status="paused")
    archived = await create_program(client, key, status="archived")
    await create_program(client, await new_key(app))  # another workspace: never listed

    everything = await client.get(PROGRAMS, headers=key.headers)
    assert everything.status_code == 200
    body = everything.json()
    assert [p["id"] for p in body["data"]] == [archived["id"], paused["id"], active["id"]]
    assert body["meta"]["hasMore"] is False

    for program in (active, paused, archived):
        response = await client.get(
            PROGRAMS, params={"status": program["status"]}, headers=key.headers
        )
        assert [p["id"] for p in response.json()["data"]] == [program["id"]]

    bad = await client.get(PROGRAMS, params={"status": "deleted"}, headers=key.headers)
    assert bad.status_code == 422

    counted = await client.get(PROGRAMS, params={"offset": 1, "count": 1}, headers=key.headers)
    meta = counted.json()["meta"]
    assert (meta["total"], meta["offset"], meta["hasMore"]) == (3, 1, True)
    assert [p["id"] for p in counted.json()["data"]] == [paused["id"]]


# --- update ------------------------------------------------------------------------------------


async def test_patch_changes_only_the_fields_sent(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key, name="Before", allowed_origins=["https://a.io"])
    response = await _patch(
        client,
        key,
        program["id"],
        {"name": "After", "status": "paused", "landing_url": "https://example.org/join"},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "After"
    assert updated["status"] == "paused"
    assert updated["landing_url"] == "https://example.org/join"
    assert updated["slug"] == program["slug"]  # renaming keeps the slug
    assert updated["allowed_origins"] == ["https://a.io"]
    assert updated["created_at"] == program["created_at"]
    assert updated["updated_at"] > program["updated_at"]

    fetched = await client.get(f"{PROGRAMS}/{program['id']}", headers=key.headers)
    assert fetched.json() == updated

    empty = await _patch(client, key, program["id"], {})
    assert empty.status_code == 200
    assert {k: v for k, v in empty.json().items() if k != "updated_at"} == {
        k: v for k, v in updated.items() if k != "updated_at"
    }


async def test_patch_slug(client: httpx.AsyncClient, key: Key) -> None:
    taken = await create_program(client, key, slug="taken")
    program = await create_program(client, key, slug="mine")
    clash = await _patch(client, key, program["id"], {"slug": "taken"})
    assert clash.status_code == 409
    assert clash.json()["code"] == "conflict"
    same = await _patch(client, key, program["id"], {"slug": "mine"})
    assert same.status_code == 200
    moved = await _patch(client, key, program["id"], {"slug": "renamed"})
    assert moved.json()["slug"] == "renamed"
    # The old slug is free again.
    assert (await _patch(client, key, taken["id"], {"slug": "mine"})).json()["slug"] == "mine"


async def test_patch_merges_nested_settings_key_by_key(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(
        client,
        key,
        attribution={"model": "first_click", "window_days": 60},
        qualification={"event": "signup", "within_days": 10},
        fraud={"mode": "block", "max_referrals_per_member_per_day": 3},
    )
    response = await _patch(
        client,
        key,
        program["id"],
        {
            "attribution": {"window_days": 7},
            "qualification": {"event": "purchase"},
            "fraud": {"self_referral": False},
        },
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["attribution"] == {"model": "first_click", "window_days": 7}
    assert updated["qualification"] == {
        "event": "purchase",
        "min_amount": None,
        "currency": None,
        "within_days": 10,
        "on_refund": "deny",
    }
    assert updated["fraud"] == {
        "mode": "block",
        "self_referral": False,
        "max_referrals_per_member_per_day": 3,
        "max_referrals_per_member_per_hour": None,
        "disposable_emails": True,
        "blocked_emails": [],
        "blocked_domains": [],
        "blocked_ip_ranges": [],
        "same_device": True,
    }

    # An explicit null clears an optional nested key and leaves the others alone.
    cleared = await _patch(
        client,
        key,
        program["id"],
        {
            "fraud": {"max_referrals_per_member_per_day": None},
            "qualification": {"within_days": None},
        },
    )
    assert cleared.json()["fraud"] == {
        "mode": "block",
        "self_referral": False,
        "max_referrals_per_member_per_day": None,
        "max_referrals_per_member_per_hour": None,
        "disposable_emails": True,
        "blocked_emails": [],
        "blocked_domains": [],
        "blocked_ip_ranges": [],
        "same_device": True,
    }
    assert cleared.json()["qualification"]["within_days"] is None
    assert cleared.json()["qualification"]["event"] == "purchase"

    bad = await _patch(client, key, program["id"], {"attribution": {"window_days": 0}})
    assert bad.status_code == 422
    unknown = await _patch(client, key, program["id"], {"attribution": {"colour": "red"}})
    assert unknown.status_code == 422


async def test_patch_replaces_reward_rules_keeping_ids_sent_back(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key, reward_rules=[CASH_RULE, POINTS_RULE])
    cash, points = program["reward_rules"]

    changed_cash = {**cash, "amount": 3000}
    response = await _patch(
        client,
        key,
        program["id"],
        {"reward_rules": [changed_cash, {**POINTS_RULE, "amount": 5}]},
    )
    assert response.status_code == 200, response.text
    first, second = response.json()["reward_rules"]
    assert first["id"] == cash["id"]
    assert first["amount"] == 3000
    # A rule sent without an id is a new rule: the old points rule is gone.
    assert second["id"].startswith("rule_")
    assert second["id"] not in (cash["id"], points["id"])
    assert second["amount"] == 5

    untouched = await _patch(client, key, program["id"], {"name": "renamed"})
    assert untouched.json()["reward_rules"] == [first, second]

    emptied = await _patch(client, key, program["id"], {"reward_rules": []})
    assert emptied.json()["reward_rules"] == []
    # A removed rule's id cannot be brought back.
    revived = await _patch(client, key, program["id"], {"reward_rules": [cash]})
    assert revived.status_code == 422


async def test_patch_with_unknown_rule_id_is_rejected(client: httpx.AsyncClient, key: Key) -> None:
    program = await create_program(client, key, reward_rules=[CASH_RULE])
    other = await create_program(client, key, reward_rules=[POINTS_RULE])
    for rule_id in ("rule_01jd9x4k6b8v2q3r5s7t9w1y3z", other["reward_rules"][0]["id"]):
        response = await _patch(
            client, key, program["id"], {"reward_rules": [{**CASH_RULE, "id": rule_id}]}
        )
        assert response.status_code == 422
        assert _fields(response) == ["reward_rules.id"]
    unchanged = await client.get(f"{PROGRAMS}/{program['id']}", headers=key.headers)
    assert unchanged.json()["reward_rules"] == program["reward_rules"]


@pytest.mark.parametrize(
    "field",
    [
        "name",
        "landing_url",
        "slug",
        "status",
        "allowed_origins",
        "reward_rules",
        "attribution",
        "qualification",
        "fraud",
    ],
)
async def test_nulling_a_required_field_is_rejected(
    client: httpx.AsyncClient, key: Key, field: str
) -> None:
    program = await create_program(client, key)
    response = await _patch(client, key, program["id"], {field: None})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    fetched = await client.get(f"{PROGRAMS}/{program['id']}", headers=key.headers)
    assert fetched.json() == program


@pytest.mark.parametrize(
    "nested",
    [
        {"attribution": {"model": None}},
        {"attribution": {"window_days": None}},
        {"qualification": {"event": None}},
        {"fraud": {"mode": None}},
        {"fraud": {"self_referral": None}},
    ],
)
async def test_nulling_a_required_nested_key_is_rejected(
    client: httpx.AsyncClient, key: Key, nested: dict[str, Any]
) -> None:
    program = await create_program(client, key)
    response = await _patch(client, key, program["id"], nested)
    assert response.status_code == 422, response.text
    fetched = await client.get(f"{PROGRAMS}/{program['id']}", headers=key.headers)
    assert fetched.json() == program


async def test_patch_unknown_program_is_404(client: httpx.AsyncClient, key: Key) -> None:
    response = await _patch(client, key, "prog_01jd9x4k6b8v2q3r5s7t9w1y3z", {"name": "x"})
    assert response.status_code == 404


# --- delete ------------------------------------------------------------------------------------


async def test_delete_removes_the_program_with_its_members_and_referrals(
    client: httpx.AsyncClient, key: Key
) -> None:
    program = await create_program(client, key)
    kept = await create_program(client, key)
    member = await create_member(client, key, program["id"])
    referral = await create_referral(client, key, member["referral_code"])
    kept_member = await create_member(client, key, kept["id"])
    kept_referral = await create_referral(client, key, kept_member["referral_code"])

    response = await client.delete(f"{PROGRAMS}/{program['id']}", headers=key.headers)
    assert response.status_code == 204
    assert response.content == b""

    for path in (
        f"{PROGRAMS}/{program['id']}",
        f"/api/v1/members/{member['id']}",
        f"/api/v1/referrals/{referral['id']}",
        f"{PROGRAMS}/{program['id']}/members",
    ):
        gone = await client.get(path, headers=key.headers)
        assert gone.status_code == 404, path
    listed = await client.get("/api/v1/referrals", headers=key.headers)
    assert [r["id"] for r in listed.json()["data"]] == [kept_referral["id"]]
    programs = await client.get(PROGRAMS, headers=key.headers)
    assert [p["id"] for p in programs.json()["data"]] == [kept["id"]]
    # The other program is untouched.
    for path in (
        f"/api/v1/members/{kept_member['id']}",
        f"/api/v1/referrals/{kept_referral['id']}",
    ):
        assert (await client.get(path, headers=key.headers)).status_code == 200

    again = await client.delete(f"{PROGRAMS}/{program['id']}", headers=key.headers)
    assert again.status_code == 404
    # The deleted member's code no longer credits anyone.
    orphan = await client.post(
        "/api/v1/referrals",
        json={"referral_code": member["referral_code"], "referee": {"email": "x@example.com"}},
        headers=key.headers,
    )
    assert orphan.status_code == 422
    assert orphan.json()["code"] == "unknown_referral_code"
