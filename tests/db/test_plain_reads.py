"""Plain reads (``referkit.db.plain_reads``): on SQLite a read outside any transaction runs on
the event loop on a read-only connection of the process and answers what the session would
(values converted by the columns' types); whatever must see the session's transaction, or ran
past its budget, reads through the session."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, func, literal_column, select, text, union_all, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import aliased

from referkit.db import sqlite_trips
from referkit.db.engine import create_engine
from referkit.db.lookup import statement
from referkit.db.plain_reads import LoopReader, PlainRead
from referkit.db.session import SessionFactory
from referkit.models import Member, Program, Workspace
from tests.factories import Key, new_key

PROGRAM_BY_ID = PlainRead(statement(Program, ("id", "workspace_id"), False, True))


async def _program(app: FastAPI, key: Key, client: Any) -> str:
    answer = await client.post(
        "/api/v1/programs",
        json={
            "name": "Plain",
            "landing_url": "https://example.com/",
            "allowed_origins": ["https://shop.example"],
            "reward_rules": [
                {
                    "recipient": "referrer",
                    "trigger": "referral_created",
                    "kind": "points",
                    "amount": 500,
                }
            ],
        },
        headers=key.headers,
    )
    assert answer.status_code == 201, answer.text
    program_id: str = answer.json()["id"]
    return program_id


def _on_sqlite(app: FastAPI) -> bool:
    sessions: SessionFactory = app.state.sessions
    return sessions.engine.dialect.name == "sqlite"


async def test_a_plain_read_answers_what_the_session_reads(
    app: FastAPI, client: Any, key: Key
) -> None:
    program_id = await _program(app, key, client)
    sessions: SessionFactory = app.state.sessions
    params = {"id": program_id, "workspace_id": key.workspace_id}
    async with sessions(write=False) as session:
        plain = await PROGRAM_BY_ID.first(session, params)
        # On SQLite it ran on the loop: the session began nothing.
        assert session.in_transaction() is not _on_sqlite(app)
    async with sessions(write=False) as session:
        stored = (await session.execute(PROGRAM_BY_ID.statement, params)).one()
    assert plain is not None
    assert tuple(plain) == tuple(stored)
    assert plain.id == program_id
    assert plain.livemode is True
    assert plain.created_at.tzinfo is UTC
    assert plain.allowed_origins == ["https://shop.example"]
    assert plain.reward_rules[0]["amount"] == 500


async def test_compound_statements_repeated_and_literal_parameters(
    app: FastAPI, client: Any, key: Key
) -> None:
    """A union naming one parameter twice, a literal bound anonymously (``+ ''``), a label over
    a function, and one table joined twice (two columns of one key): as the session reads."""
    program_id = await _program(app, key, client)
    for email in ("a@example.com", "b@example.com"):
        answer = await client.post(
            f"/api/v1/programs/{program_id}/members", json={"email": email}, headers=key.headers
        )
        assert answer.status_code == 201
    first, second = aliased(Member), aliased(Member)
    joined = PlainRead(
        select(Program.id, first.email, second.email, first.created_at)
        .join(first, first.program_id == Program.id)
        .join(second, second.program_id == Program.id)
        .where(
            Program.id + "" == bindparam("program_id"),
            first.email == "a@example.com",
            second.email == bindparam("other"),
        )
    )
    counted = PlainRead(
        union_all(
            select(literal_column("1").label("part"), func.count(Member.id).label("n")).where(
                Member.program_id == bindparam("program_id")
            ),
            select(literal_column("2").label("part"), func.coalesce(func.sum(1), 0)).where(
                Program.id == bindparam("program_id"),
                Program.workspace_id == bindparam("workspace_id"),
            ),
        ).order_by(literal_column("part"))
    )
    sessions: SessionFactory = app.state.sessions
    cases: list[tuple[PlainRead, dict[str, Any]]] = [
        (joined, {"program_id": program_id, "other": "b@example.com"}),
        (counted, {"program_id": program_id, "workspace_id": key.workspace_id}),
    ]
    for read, params in cases:
        async with sessions(write=False) as session:
            plain = await read.all(session, params)
        async with sessions(write=False) as session:
            stored = (await session.execute(read.statement, params)).all()
        assert [tuple(row) for row in plain] == [tuple(row) for row in stored]
    async with sessions(write=False) as session:
        row = await joined.first(session, {"program_id": program_id, "other": "b@example.com"})
    assert row is not None
    assert row[1:3] == ("a@example.com", "b@example.com")
    assert row.created_at.tzinfo is UTC


async def test_what_another_connection_commits_is_read_at_once(app: FastAPI, key: Key) -> None:
    sessions: SessionFactory = app.state.sessions
    read = PlainRead(select(Workspace.rate_limit_per_minute).where(Workspace.id == bindparam("id")))
    for limit in (120, 7, None):
        other = create_engine(str(sessions.engine.url.render_as_string(hide_password=False)))
        try:
            async with other.begin() as conn:
                await conn.execute(
                    update(Workspace)
                    .where(Workspace.id == key.workspace_id)
                    .values(rate_limit_per_minute=limit)
                )
        finally:
            await other.dispose()
        async with sessions(write=False) as session:
            assert (await read.first(session, {"id": key.workspace_id})) == (limit,)


@pytest.fixture
async def sqlite_sessions(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER, at TEXT)"))
        await conn.execute(text("INSERT INTO t VALUES (1, '2026-01-02 03:04:05.000000')"))
    sessions = SessionFactory(engine)
    yield sessions
    sessions.close()
    await engine.dispose()


COUNT = PlainRead(select(func.count()).select_from(text("t")))


async def test_a_session_that_began_reads_its_own_writes(sqlite_sessions: SessionFactory) -> None:
    async with sqlite_sessions(write=False) as session:
        assert await COUNT.first(session, {}) == (1,)
        assert not session.in_transaction()
        await session.execute(text("INSERT INTO t VALUES (2, NULL)"))
        # Not committed: only the session's own connection sees it, and the read goes there.
        assert await COUNT.first(session, {}) == (2,)
        await session.rollback()
        assert await COUNT.first(session, {}) == (1,)


async def test_a_write_sessions_reads_belong_to_its_transaction(
    sqlite_sessions: SessionFactory,
) -> None:
    async with sqlite_sessions(write=True) as session:
        assert await COUNT.first(session, {}, before_transaction=True) == (1,)
        assert not session.in_transaction()
        assert await COUNT.first(session, {}) == (1,)
        assert session.in_transaction()  # read in its BEGIN IMMEDIATE
        await session.rollback()


async def test_a_read_past_its_budget_reads_through_the_session(
    sqlite_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = PlainRead(
        select(literal_column("count(*)")).select_from(
            text(
                "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000)"
                " SELECT x FROM c)"
            )
        )
    )
    async with sqlite_sessions(write=False) as session:
        assert await many.first(session, {}) == (5000,)
        assert not session.in_transaction()
    monkeypatch.setattr(sqlite_trips, "LOOP_READ_STEPS", 2_000)
    async with sqlite_sessions(write=False) as session:
        assert await many.first(session, {}) == (5000,)
        assert session.in_transaction()  # interrupted on the loop, read on the thread


async def test_the_readers_connection_cannot_write(sqlite_sessions: SessionFactory) -> None:
    reader = sqlite_sessions.reader
    assert reader is not None
    async with sqlite_sessions(write=False) as session:
        await COUNT.first(session, {})
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader._connection().execute("INSERT INTO t VALUES (3, NULL)")


async def test_only_a_database_file_gets_a_reader(tmp_path: Path) -> None:
    for url, expected in [
        (f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", True),
        ("sqlite+aiosqlite://", False),
        ("sqlite+aiosqlite:///:memory:", False),
        (f"sqlite+aiosqlite:///file:{tmp_path / 'b.db'}?mode=ro&uri=true", False),
    ]:
        engine = create_async_engine(url)
        try:
            assert (LoopReader.of(engine) is not None) is expected, url
        finally:
            await engine.dispose()


async def test_times_read_plain_are_utc(sqlite_sessions: SessionFactory) -> None:
    from referkit.db.types import UTCDateTime

    read = PlainRead(select(literal_column("at", UTCDateTime()).label("at")).select_from(text("t")))
    async with sqlite_sessions(write=False) as session:
        assert await read.first(session, {}) == (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),)


async def test_a_key_is_refused_once_revoked_elsewhere(app: FastAPI, client: Any) -> None:
    key = await new_key(app)
    assert (await client.get("/api/v1/programs", headers=key.headers)).status_code == 200
    sessions: SessionFactory = app.state.sessions
    other = create_engine(str(sessions.engine.url.render_as_string(hide_password=False)))
    try:
        async with other.begin() as conn:
            await conn.execute(
                text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE id = :id"),
                {"id": key.key_id},
            )
    finally:
        await other.dispose()
    assert (await client.get("/api/v1/programs", headers=key.headers)).status_code == 401


async def test_parameters_rendered_at_execution_are_refused(
    sqlite_sessions: SessionFactory,
) -> None:
    for where in (
        literal_column("n").in_(bindparam("ns", expanding=True)),
        literal_column("n") == bindparam("n", literal_execute=True),
    ):
        read = PlainRead(select(literal_column("n")).select_from(text("t")).where(where))
        async with sqlite_sessions(write=False) as session:
            with pytest.raises(ValueError, match="rendered at execution"):
                await read.all(session, {"ns": [1], "n": 1})
