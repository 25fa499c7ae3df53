"""``0028_tenantcodes`` on a database that already holds data: orphan clicks and postbacks of
no app get the workspace ``''``, the reach marks of the last two hours are rebuilt with their
workspace, ``codes`` is filled from the members and links, and the way back keeps what the
older shape can hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from referkit.db import migrate
from referkit.link.clicks import reach_key
from tests.db.test_tenant_keys import database_problems
from tests.db.test_tenant_keys_migration import _filler, _run, fresh_url

__all__ = ["fresh_url"]  # the fixture, shared with the 0025 test

BEFORE = "0027_rollupfill"
NOW = datetime.now(UTC).replace(microsecond=0)


def _insert(conn: Connection, table_name: str, **values: Any) -> None:
    table = sa.Table(table_name, sa.MetaData(), autoload_with=conn)
    for column in table.columns:
        if column.name not in values and not column.nullable:
            values[column.name] = _filler(column)
    conn.execute(table.insert().values(**values))


def _clicks(conn: Connection) -> None:
    orphan_ws = "" if conn.dialect.name == "postgresql" else None
    common = {"livemode": True, "is_bot": False, "is_orphan": False, "created_at": NOW}
    _insert(conn, "clicks", id="clk_a", workspace_id="ws_a", link_id="lnk_a",
            visitor_hash="va", is_unique=True, **common)  # fmt: skip
    _insert(conn, "clicks", id="clk_b", workspace_id="ws_a", link_id="lnk_a",
            visitor_hash="va", is_unique=False, **common)  # fmt: skip
    old = {**common, "created_at": NOW - timedelta(hours=3)}
    _insert(conn, "clicks", id="clk_c", workspace_id="ws_b", link_id="lnk_b",
            visitor_hash="vb", is_unique=True, **old)  # fmt: skip
    _insert(conn, "clicks", id="clk_d", workspace_id=orphan_ws, link_id=None, visitor_hash="vc",
            is_unique=False, **{**common, "is_orphan": True})  # fmt: skip
    _insert(conn, "reach_marks", key=reach_key("va", "lnk_a", NOW), created_at=NOW)
    # A member with its default link (one code) and a link with a code of its own.
    ws = {"workspace_id": "ws_a", "livemode": True, "created_at": NOW, "updated_at": NOW}
    _insert(conn, "workspaces", id="ws_a", name="a")
    _insert(conn, "programs", id="prg_a", slug="p", **ws)
    _insert(conn, "members", id="mem_a", program_id="prg_a", code_key="ann", **ws)
    _insert(conn, "links", id="lnk_m", program_id="prg_a", member_id="mem_a", code_key="ann",
            **ws)  # fmt: skip
    _insert(conn, "links", id="lnk_a", code_key="own", **ws)
    for n, workspace_id in enumerate(("ws_a", None)):  # an app's postback, and one of no app
        _insert(conn, "skan_postbacks", id=f"skp_{n}", workspace_id=workspace_id,
                transaction_id=f"t{n}", verified=True, payload={})  # fmt: skip


def _state(conn: Connection) -> dict[str, Any]:
    marks = conn.execute(sa.text("SELECT * FROM reach_marks")).mappings()
    orphans = conn.execute(sa.text("SELECT workspace_id FROM clicks WHERE id = 'clk_d'"))
    postbacks = conn.execute(sa.text("SELECT id, workspace_id FROM skan_postbacks"))
    return {
        "marks": {(m["key"], m.get("workspace_id")) for m in marks},
        "orphan": orphans.scalar_one(),
        "postbacks": set(postbacks),
    }


async def test_orphans_reach_marks_postbacks_and_codes_get_their_workspace(fresh_url: str) -> None:
    await migrate.upgrade(fresh_url, BEFORE)
    await _run(fresh_url, _clicks)
    before = await _run(fresh_url, _state)

    await migrate.upgrade(fresh_url)
    after = await _run(fresh_url, _state)

    def codes(conn: Connection) -> set[tuple[Any, ...]]:
        rows = conn.execute(sa.text("SELECT code_key, workspace_id, kind, owner_id FROM codes"))
        return {tuple(row) for row in rows}

    assert await _run(fresh_url, codes) == {
        ("ann", "ws_a", "member", "mem_a"),
        ("own", "ws_a", "link", "lnk_a"),
    }
    # Only the reach click of the last two hours makes a mark, in its link's workspace.
    assert after == {
        "marks": {(reach_key("va", "lnk_a", NOW), "ws_a")},
        "orphan": "",
        "postbacks": {("skp_0", "ws_a"), ("skp_1", "")},
    }
    problems, _ = await database_problems(fresh_url)
    assert problems == []
    await migrate.check(fresh_url)

    await migrate.downgrade(fresh_url, BEFORE)
    assert await _run(fresh_url, _state) == before
