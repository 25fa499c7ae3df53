"""``0025_tenantkey`` on a database that already holds data: every row survives the rebuilt
keys (SQLite rebuilds each table in batch mode), the three tables that gain ``workspace_id``
get their parent's, and the way back keeps the rows too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from referkit.db import migrate
from tests.db.test_tenant_keys import database_problems
from tests.processes import PG_URL, throwaway_postgres

BEFORE = "0017_skan"
AT = datetime(2026, 11, 1, 12, tzinfo=UTC)

# One workspace's rows in every table the revision rekeys, parents first.
W = {"workspace_id": "ws_a", "livemode": True}
OF_MEMBER = {"program_id": "prg_a", "member_id": "mem_a"}
ROWS: list[tuple[str, dict[str, Any]]] = [
    ("workspaces", {"id": "ws_a", "name": "a"}),
    ("workspaces", {"id": "ws_b", "name": "b"}),
    ("api_keys", {"id": "key_a", "workspace_id": "ws_a", "public_key": "pk", "secret_hash": "h"}),
    ("programs", {"id": "prg_a", **W, "slug": "p"}),
    ("members", {"id": "mem_a", **W, "program_id": "prg_a", "code_key": "ann"}),
    ("referrals", {"id": "ref_a", **W, "program_id": "prg_a", "member_id": "mem_a"}),
    ("rewards", {"id": "rwd_a", **W, **OF_MEMBER, "dedupe_key": "a"}),
    ("rewards", {"id": "rwd_b", **W, **OF_MEMBER, "dedupe_key": "b", "referral_id": "ref_a"}),
    ("ledger_entries", {"id": "led_a", **W, "member_id": "mem_a", "reward_id": "rwd_a"}),
    ("coupons", {"id": "cpn_a", **W, "program_id": "prg_a", "pool": "p", "code": "C1"}),
    ("customers", {"id": "cus_a", **W, "external_id": "c1"}),
    ("links", {"id": "lnk_a", **W, "program_id": "prg_a", "member_id": "mem_a", "code_key": "l"}),
    ("links", {"id": "lnk_b", **W, "code_key": "m"}),  # a plain link: no program, no member
    ("rollups", {"scope": "program", "scope_id": "prg_a", "day": "2026-11-01", "currency": "",
                 **W}),
    ("erasures", {"id": "era_a", **W}),
    ("idempotency_keys", {"id": "idem_a", "api_key_id": "key_a", "key": "k"}),
    ("webhook_endpoints", {"id": "we_a", **W}),
    ("webhook_messages", {"id": "msg_a", **W, "endpoint_id": "we_a"}),
    ("webhook_attempts", {"id": "att_a", "message_id": "msg_a"}),
    ("webhook_attempts", {"id": "att_b", "message_id": "msg_a"}),
    ("apps", {"id": "app_a", **W}),
    ("app_clicks", {"id": "clk_a", **W, "app_id": "app_a"}),
    ("app_devices", {"app_id": "app_a", "device_hash": "d", **W}),
    ("app_rollups", {"app_id": "app_a", "dimension": "app", "value": "", "day": "2026-11-01",
                     "currency": "", **W}),
    ("app_integrations", {"id": "int_a", **W, "app_id": "app_a", "network": "meta"}),
    ("integration_forwards", {"id": "fwd_a", **W, "integration_id": "int_a"}),
    ("integration_attempts", {"id": "fat_a", "forward_id": "fwd_a"}),
    ("skan_schemas", {"id": "sks_a", **W, "app_id": "app_a", "version": 1}),
]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tenantkey.db'}"
        return
    if not PG_URL:
        pytest.skip("REFERKIT_TEST_DATABASE_URL is not set")
    with throwaway_postgres(PG_URL) as url:
        yield url


def _filler(column: sa.Column[Any]) -> Any:
    """A value for a NOT NULL column the row above does not care about."""
    python = column.type.python_type if not isinstance(column.type, sa.JSON) else dict
    if python is bool:
        return False
    if python is int:
        return 0
    if python is datetime:
        return AT
    if python is dict:
        return {}
    if python is bytes:
        return b""
    return "x"


def _insert_all(conn: Connection) -> None:
    metadata = sa.MetaData()
    for name, values in ROWS:
        if name in metadata.tables:
            table = metadata.tables[name]
        else:
            table = sa.Table(name, metadata, autoload_with=conn)
        row = dict(values)
        for column in table.columns:
            if column.name not in row and not column.nullable:
                row[column.name] = _filler(column)
        conn.execute(table.insert().values(**row))


def _snapshot(conn: Connection) -> dict[str, set[tuple[Any, ...]]]:
    """Each table's rows, by the columns the rows above set (workspace_id where it existed)."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    for name in {name for name, _ in ROWS}:
        columns = sorted({c for n, values in ROWS if n == name for c in values})
        rows = conn.execute(sa.text(f"SELECT {', '.join(columns)} FROM {name}"))  # noqa: S608
        out[name] = {tuple(row) for row in rows}
    return out


async def _run(url: str, fn: Any) -> Any:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


async def test_upgrade_keeps_every_row_and_backfills_the_workspace(fresh_url: str) -> None:
    await migrate.upgrade(fresh_url, BEFORE)
    await _run(fresh_url, _insert_all)
    before = await _run(fresh_url, _snapshot)
    assert sum(len(rows) for rows in before.values()) == len(ROWS)

    await migrate.upgrade(fresh_url)
    assert await _run(fresh_url, _snapshot) == before
    problems, _ = await database_problems(fresh_url)
    assert problems == []
    await migrate.check(fresh_url)

    def new_columns(conn: Connection) -> dict[str, set[str]]:
        return {
            table: set(conn.execute(sa.text(f"SELECT workspace_id FROM {table}")).scalars())  # noqa: S608
            for table in ("webhook_attempts", "integration_attempts", "idempotency_keys")
        }

    assert await _run(fresh_url, new_columns) == {
        "webhook_attempts": {"ws_a"},
        "integration_attempts": {"ws_a"},
        "idempotency_keys": {"ws_a"},
    }

    # The keys now hold per workspace: a child row naming another workspace's parent is refused.
    def cross_tenant_child(conn: Connection) -> None:
        conn.execute(
            sa.text(
                "INSERT INTO coupons (id, workspace_id, livemode, program_id, pool, code, "
                "created_at) VALUES ('cpn_x', 'ws_b', true, 'prg_a', 'p', 'C2', :at)"
            ),
            {"at": AT},
        )

    with pytest.raises(sa.exc.IntegrityError):
        await _run_fk_on(fresh_url, cross_tenant_child)

    await migrate.downgrade(fresh_url, BEFORE)
    assert await _run(fresh_url, _snapshot) == before


async def _run_fk_on(url: str, fn: Any) -> Any:
    """As ``_run``, on a connection that enforces foreign keys (SQLite's are per connection)."""
    engine = create_async_engine(url, poolclass=NullPool)
    if url.startswith("sqlite"):

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _on(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()
