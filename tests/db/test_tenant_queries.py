"""Every statement the API sends about a tenant table says which workspace it means.

A database sharded by workspace (Citus) routes a statement to one shard only when it constrains
``workspace_id`` on every distributed table it touches; otherwise it asks every shard (slow) or
refuses (``FOR UPDATE``, some joins). While a representative set of API flows runs, a
``before_cursor_execute`` hook records every SELECT, UPDATE and DELETE; each reference to a
distributed table must be matched by a ``workspace_id`` predicate on that table (or its alias).
The few statements that cannot, yet, are listed in ``EXCEPTIONS`` with the reason.

What the hook cannot see: the click and event batchers' writes on their own connections
(``sqlite3`` on the writer thread, asyncpg directly), which are inserts whose rows carry their
workspace, and the worker's sweeps across workspaces (claims, purges), which are not requests.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from referkit.db import tenancy
from tests.factories import Key, create_member, create_program, create_referral
from tests.mobile.factories import IPHONE_UA, create_app, create_app_link
from tests.reward.test_engine import EXAMPLE_RULES

TENANT_TABLES = set(tenancy.DISTRIBUTED_TABLES) | set(tenancy.OWNED_ELSEWHERE)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"

EXCEPTIONS: list[tuple[str, re.Pattern[str], str]] = []
"""(table, pattern, reason) for statements that cannot name their workspace yet: none now. The
redirect and the code checks read the ``codes`` reference table (``tenancy.REFERENCE_TABLES``)."""

SWEEPS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^delete from idempotency_keys where idempotency_keys\.created_at < ", re.I),
        "the app's hourly housekeeping: stored responses past their retention, every workspace",
    ),
    (
        re.compile(r"^delete from reach_marks where reach_marks\.key < ", re.I),
        "the app's hourly housekeeping: reach marks of past hours (a key range), every workspace",
    ),
]
"""Housekeeping that runs in the app's process beside the requests (so the hook may see it
while the flows run) and is meant to cover every workspace: not a request of a tenant."""

_KEYWORDS = {
    "where", "on", "set", "join", "left", "right", "inner", "outer", "full", "cross", "order",
    "group", "limit", "offset", "for", "returning", "using", "values", "union", "having",
    "natural", "window", "except", "intersect",
}  # fmt: skip
_REFERENCE = re.compile(r"\b(?:from|join|update)\s+(\w+)(?:\s+(?:as\s+)?(\w+))?", re.IGNORECASE)


def references(sql: str) -> list[tuple[str, str]]:
    """(table, alias) for each tenant table the statement reads or changes."""
    found = []
    for match in _REFERENCE.finditer(sql):
        table, alias = match.group(1).lower(), (match.group(2) or "").lower()
        if table not in TENANT_TABLES:
            continue
        if not alias or alias in _KEYWORDS:
            alias = table
        found.append((table, alias))
    return found


def constrained(sql: str, alias: str, *, alone: bool) -> bool:
    qualified = rf"(?<![\w.]){alias}\.workspace_id\s*(?:=|in\b|is not distinct from)"
    if re.search(qualified, sql, re.IGNORECASE):
        return True
    if re.search(rf"=\s*{alias}\.workspace_id\b", sql, re.IGNORECASE):
        return True
    # A statement about a single table may leave its columns unqualified.
    return alone and re.search(r"(?<![\w.])workspace_id\s*(?:=|in\b)", sql, re.I) is not None


def unscoped(sql: str) -> list[str]:
    """The tenant tables ``sql`` touches without saying which workspace."""
    text = " ".join(sql.replace('"', "").split())
    if text.split(" ", 1)[0].lower() not in ("select", "update", "delete", "with"):
        return []
    if any(pattern.search(text) for pattern, _ in SWEEPS):
        return []
    refs = references(text)
    alone = len(refs) == 1
    missing = []
    for table, alias in refs:
        if constrained(text, alias, alone=alone):
            continue
        if any(table == t and pattern.search(text) for t, pattern, _ in EXCEPTIONS):
            continue
        missing.append(table)
    return missing


def _short(sql: str) -> str:
    """The statement without its select list, which says nothing about the workspace."""
    text = " ".join(sql.split())
    return re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", text, count=1, flags=re.I)[:400]


@contextmanager
def recording(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = app.state.sessions.engine.sync_engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize(
    ("sql", "missing"),
    [
        ("SELECT programs.id FROM programs WHERE programs.id = ?", ["programs"]),
        ("SELECT p.id FROM programs AS p WHERE p.workspace_id = ? AND p.id = ?", []),
        (
            "SELECT r.id FROM referrals AS r JOIN members ON members.id = r.member_id "
            "WHERE r.workspace_id = ?",
            ["members"],
        ),
        (
            "SELECT r.id FROM referrals r JOIN members m ON m.workspace_id = r.workspace_id "
            "AND m.id = r.member_id WHERE r.workspace_id = $1",
            [],
        ),
        ("UPDATE rollups SET clicks=? WHERE workspace_id = ? AND scope = ?", []),
        (
            "DELETE FROM webhook_attempts WHERE webhook_attempts.message_id = ?",
            ["webhook_attempts"],
        ),
        ("SELECT workspaces.id FROM workspaces WHERE workspaces.id = ?", []),
        ("INSERT INTO programs (id) VALUES (?)", []),
        ("SELECT links.id FROM links WHERE links.code_key = ?", ["links"]),
        ("SELECT codes.workspace_id FROM codes WHERE codes.code_key = ?", []),
        ('DELETE FROM reach_marks WHERE reach_marks."key" < ?', []),
        ("DELETE FROM reach_marks WHERE reach_marks.workspace_id < ?", ["reach_marks"]),
    ],
)
def test_the_parser(sql: str, missing: list[str]) -> None:
    assert unscoped(sql) == missing


async def _flows(client: httpx.AsyncClient, key: Key) -> None:
    """Create, change, list and count every kind of tenant row through the API."""
    h = key.headers

    async def ok(method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = await client.request(method, url, headers=h, **kwargs)
        assert response.status_code < 400, (method, url, response.text)
        return response.json() if response.content else {}

    program = await create_program(client, key, reward_rules=EXAMPLE_RULES)
    pid = program["id"]
    await ok("POST", f"/api/v1/programs/{pid}/coupon-pools/WELCOME/codes", json={"codes": ["W1"]})
    await ok("GET", f"/api/v1/programs/{pid}/coupon-pools")
    await ok("PATCH", f"/api/v1/programs/{pid}", json={"name": "Renamed"})
    await ok("GET", f"/api/v1/programs/{pid}")
    await ok("GET", "/api/v1/programs")
    endpoint = await ok("POST", "/api/v1/webhooks", json={"url": "https://example.com/hook"})
    member = await create_member(client, key, pid, email="ref@example.com")
    mid = member["id"]
    await ok("PATCH", f"/api/v1/members/{mid}", json={"name": "Ref"})
    await ok("GET", f"/api/v1/members/{mid}")
    await ok("GET", f"/api/v1/programs/{pid}/members")
    link = await ok(
        "POST", "/api/v1/links", json={"destination_url": "https://example.com/x", "member_id": mid}
    )
    await ok("PATCH", f"/api/v1/links/{link['id']}", json={"destination_url": "https://e.com/y"})
    await ok("GET", f"/api/v1/links/{link['id']}")
    await ok("GET", "/api/v1/links")
    click = await client.get(f"/r/{member['referral_code']}", headers={"user-agent": BROWSER})
    assert click.status_code == 302
    visitor = click.cookies["rk_vid"]
    signup = await ok(
        "POST",
        "/api/v1/events",
        json={
            "event_id": f"e-{uuid.uuid4().hex[:8]}",
            "type": "signup",
            "visitor_id": visitor,
            "customer": {"email": "friend@example.com", "external_id": "c-1"},
        },
    )
    referral = await create_referral(client, key, member["referral_code"])
    await ok("GET", f"/api/v1/referrals/{referral['id']}")
    for status in ("qualified", "approved"):  # fires the program's reward rules
        await ok("PATCH", f"/api/v1/referrals/{referral['id']}", json={"status": status})
    await ok("GET", "/api/v1/referrals")
    await ok("GET", "/api/v1/events")
    reward = await ok(
        "POST",
        "/api/v1/rewards",
        json={"member_id": mid, "kind": "cash", "amount": 500, "currency": "USD"},
    )
    await ok("POST", f"/api/v1/rewards/{reward['id']}/issue")
    await ok("GET", f"/api/v1/rewards/{reward['id']}")
    await ok("GET", "/api/v1/rewards")
    await ok("GET", f"/api/v1/members/{mid}/balances")
    await ok("GET", f"/api/v1/members/{mid}/ledger")
    await ok("GET", f"/api/v1/members/{mid}/stats")
    await ok("GET", f"/api/v1/programs/{pid}/stats")
    await ok("GET", f"/api/v1/programs/{pid}/leaderboard")
    await ok("GET", "/api/v1/customers")
    customer_id = signup["customer"]["id"] if signup.get("customer") else None
    if customer_id:
        await ok("GET", f"/api/v1/customers/{customer_id}")
        await ok("GET", f"/api/v1/customers/{customer_id}/export")
        await ok("DELETE", f"/api/v1/customers/{customer_id}")
    await ok("GET", "/api/v1/erasures")
    await ok("GET", "/api/v1/workspace")
    await ok("GET", f"/api/v1/webhooks/{endpoint['id']}")
    await ok("GET", f"/api/v1/webhooks/{endpoint['id']}/messages")
    await ok("PATCH", f"/api/v1/webhooks/{endpoint['id']}", json={"description": "ours"})
    app = await create_app(client, key)
    aid = app["id"]
    app_link = await create_app_link(client, key, aid)
    tap = await client.get(f"/r/{app_link['code']}", headers={"user-agent": IPHONE_UA})
    assert tap.status_code in (200, 302), tap.text
    await ok("GET", f"/api/v1/apps/{aid}")
    await ok("GET", "/api/v1/apps")
    await ok("GET", f"/api/v1/apps/{aid}/links")
    await ok("GET", f"/api/v1/apps/{aid}/stats")
    await ok("GET", f"/api/v1/apps/{aid}/overview")
    await ok("GET", f"/api/v1/apps/{aid}/events")
    await ok("GET", "/api/v1/portfolio")
    await ok("GET", f"/api/v1/apps/{aid}/integrations")
    skan = await client.get(f"/api/v1/apps/{aid}/skan", headers=h)
    assert skan.status_code == 404  # no schema yet: still looked up in its workspace
    await ok("DELETE", f"/api/v1/links/{link['id']}")
    await ok("DELETE", f"/api/v1/members/{mid}")
    await ok("DELETE", f"/api/v1/webhooks/{endpoint['id']}")


async def test_every_api_statement_names_its_workspace(
    app: FastAPI, client: httpx.AsyncClient, key: Key
) -> None:
    with recording(app) as statements:
        await _flows(client, key)
    assert len(statements) > 100  # the flows ran and the hook saw them
    problems = sorted({f"{table}: {_short(sql)}" for sql in statements for table in unscoped(sql)})
    if problems:
        pytest.fail("statements without a workspace:\n" + "\n".join(problems), pytrace=False)
