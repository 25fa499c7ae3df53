"""Migration 0007 sums the per-day member rollups that already exist into the leaderboard's
month and all-time buckets, on both databases."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from referkit.db import migrate
from tests.db.test_migrations import execute, fresh_url  # noqa: F401  (fixture)

_ROW = (
    "INSERT INTO rollups (scope, scope_id, day, currency, workspace_id, livemode, program_id, "
    "clicks, bot_clicks, reach, installs, signups, referrals, qualified, conversions, revenue) "
    "VALUES ('{scope}', '{member}', '{day}', '', 'ws_1', true, 'prog_1', "
    "{clicks}, 0, 1, 0, 0, {referrals}, {qualified}, 0, 0)"
)


async def test_existing_member_days_are_summed_into_buckets(fresh_url: str) -> None:  # noqa: F811
    await migrate.upgrade(fresh_url, "0006")
    rows = [
        ("member", "mem_a", "2026-10-30", 5, 1, 0),
        ("member", "mem_a", "2026-11-01", 3, 2, 1),
        ("member", "mem_a", "2026-11-02", 2, 0, 1),
        ("member", "mem_b", "2026-11-02", 7, 1, 0),
        ("program", "prog_1", "2026-11-02", 17, 4, 2),  # not a member row: not summed
    ]
    await execute(
        fresh_url,
        *(
            _ROW.format(scope=s, member=m, day=d, clicks=c, referrals=r, qualified=q)
            for s, m, d, c, r, q in rows
        ),
    )
    await migrate.upgrade(fresh_url, "head")
    engine = create_async_engine(fresh_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            found = (
                await conn.execute(
                    text(
                        "SELECT scope, scope_id, day, clicks, referrals, qualified FROM rollups "
                        "WHERE scope IN ('mem_month', 'mem_all') ORDER BY scope, scope_id, day"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in found] == [
        ("mem_all", "mem_a", "all", 10, 3, 2),
        ("mem_all", "mem_b", "all", 7, 1, 0),
        ("mem_month", "mem_a", "2026-10", 5, 1, 0),
        ("mem_month", "mem_a", "2026-11", 5, 2, 2),
        ("mem_month", "mem_b", "2026-11", 7, 1, 0),
    ]
