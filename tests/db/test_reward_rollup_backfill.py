"""Migration 0020_dashrollup counts the rewards already stored into the reward rollups: per
program, UTC creation day, unit and status, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from referkit.db import migrate
from tests.db.test_migrations import fresh_url  # noqa: F401  (fixture)

_REWARD = (
    "INSERT INTO rewards (id, workspace_id, livemode, program_id, member_id, dedupe_key, "
    "recipient, kind, amount, currency, description, status, eligible_at, created_at, "
    "updated_at) VALUES (:id, 'ws_1', true, 'prog_1', 'mem_1', :id, 'referrer', :kind, "
    ":amount, :currency, '', :status, :at, :at, :at)"
)


async def _run(
    url: str, sql: str, rows: list[dict[str, object]] | None = None
) -> list[tuple[object, ...]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql), rows or {})
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_existing_rewards_are_counted_by_day_unit_and_status(
    fresh_url: str,  # noqa: F811
) -> None:
    await migrate.upgrade(fresh_url, "0017_skan")
    at = datetime(2026, 11, 30, 23, 50, tzinfo=UTC)
    await _run(
        fresh_url,
        "INSERT INTO workspaces (id, name, created_at) VALUES ('ws_1', 'W', :t)",
        [{"t": at}],
    )
    await _run(
        fresh_url,
        "INSERT INTO programs (id, workspace_id, livemode, name, slug, landing_url, attribution, "
        "qualification, fraud, reward_rules, allowed_origins, auto_issue, status, embed, "
        "created_at, updated_at) VALUES ('prog_1', 'ws_1', true, 'P', 'p', 'https://example.com', "
        "'{}', '{}', '{}', '[]', '[]', true, 'active', '{}', :t, :t)",
        [{"t": at}],
    )
    await _run(
        fresh_url,
        "INSERT INTO members (id, workspace_id, livemode, program_id, referral_code, code_key, "
        "status, metadata, created_at, updated_at) "
        "VALUES ('mem_1', 'ws_1', true, 'prog_1', 'C', 'c', 'active', '{}', :t, :t)",
        [{"t": at}],
    )
    later = datetime(2026, 12, 1, 0, 10, tzinfo=UTC)
    rewards = [
        ("rwd_1", "cash", 2000, "USD", "pending", at),
        ("rwd_2", "cash", 1000, "USD", "issued", at),
        ("rwd_3", "cash", 500, "USD", "cancelled", at),
        ("rwd_4", "cash", 700, "USD", "reversed", later),
        ("rwd_5", "points", 40, None, "issued", at),
        ("rwd_6", "coupon", None, None, "pending", at),
    ]
    await _run(
        fresh_url,
        _REWARD,
        [
            {"id": i, "kind": k, "amount": a, "currency": c, "status": s, "at": t}
            for i, k, a, c, s, t in rewards
        ],
    )
    await migrate.upgrade(fresh_url, "head")
    found = await _run(
        fresh_url,
        "SELECT workspace_id, program_id, day, unit, pending_count, pending_amount, "
        "issued_count, issued_amount, cancelled_count, cancelled_amount, reversed_count, "
        "reversed_amount FROM reward_rollups",
    )
    assert sorted(found) == [
        ("ws_1", "prog_1", "2026-11-30", "USD", 1, 2000, 1, 1000, 1, 500, 0, 0),
        ("ws_1", "prog_1", "2026-11-30", "coupon", 1, 0, 0, 0, 0, 0, 0, 0),
        ("ws_1", "prog_1", "2026-11-30", "points", 0, 0, 1, 40, 0, 0, 0, 0),
        ("ws_1", "prog_1", "2026-12-01", "USD", 0, 0, 0, 0, 0, 0, 1, 700),
    ]
