"""Queries for links and clicks (clicks are written by the click batcher, read by attribution)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from referkit.db.lookup import owned_by_id
from referkit.db.upsert import dialect_insert
from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.kit.search import matches_any
from referkit.models import App, Click, Code, Link, Program, ReachMark


class LinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: str, livemode: bool, link_id: str) -> Link | None:
        return await owned_by_id(
            self.session, Link, workspace_id, livemode, link_id, live_only=True
        )

    async def code_taken(self, code_key: str) -> bool:
        """Across the installation, archived links and member codes included (``codes``)."""
        found = await self.session.scalar(select(Code.code_key).where(Code.code_key == code_key))
        return found is not None

    async def claim_code(self, code: Code) -> None:
        """Take ``code`` for its workspace; IntegrityError (at this flush) when it is taken."""
        self.session.add(code)
        await self.session.flush()

    async def default_for(self, workspace_id: str, member_id: str) -> Link | None:
        result: Link | None = await self.session.scalar(
            select(Link).where(
                Link.workspace_id == workspace_id,
                Link.member_id == member_id,
                Link.is_default.is_(True),
            )
        )
        return result

    async def page(
        self,
        workspace_id: str,
        livemode: bool,
        params: PageParams,
        *,
        program_id: str | None,
        member_id: str | None,
        q: str | None,
        app_id: str | None = None,
    ) -> tuple[list[Link], PageMeta]:
        stmt = select(Link).where(
            Link.workspace_id == workspace_id,
            Link.livemode == livemode,
            Link.archived_at.is_(None),
        )
        if program_id is not None:
            stmt = stmt.where(Link.program_id == program_id)
        if member_id is not None:
            stmt = stmt.where(Link.member_id == member_id)
        if app_id is not None:
            stmt = stmt.where(Link.app_id == app_id)
        if q:
            stmt = stmt.where(matches_any(q, Link.code, Link.destination_url))
        return await paginate(self.session, stmt, Link.id, params)

    async def add(self, link: Link) -> Link:
        self.session.add(link)
        await self.session.flush()
        return link

    async def archive_member_links(
        self, workspace_id: str, member_id: str, now: datetime
    ) -> list[str]:
        rows = await self.session.execute(
            update(Link)
            .where(
                Link.workspace_id == workspace_id,
                Link.member_id == member_id,
                Link.archived_at.is_(None),
            )
            .values(archived_at=now, updated_at=now)
            .returning(Link.code_key)
        )
        return [row[0] for row in rows]


REDIRECT_COLUMNS = (
    Link.id,
    Link.workspace_id,
    Link.livemode,
    Link.program_id,
    Link.member_id,
    Link.destination_url,
    Link.ios_url,
    Link.android_url,
    Link.utm,
    Link.expires_at,
    Link.archived_at,
    Program.landing_url,
    Link.app_id,
    Link.network,
    Link.campaign,
    Link.adset,
    Link.ad,
    Link.og,
    App.platforms.label("app_platforms"),
)
"""What ``/r/{code}`` reads about a link, its program's landing page and its app's platforms
(from ``with_program_and_app``)."""


def with_program_and_app(stmt: Select[Any]) -> Select[Any]:
    """``stmt`` (over ``links``) joined to the link's program and app in its workspace."""
    return stmt.outerjoin(
        Program, (Program.workspace_id == Link.workspace_id) & (Program.id == Link.program_id)
    ).outerjoin(App, (App.workspace_id == Link.workspace_id) & (App.id == Link.app_id))


async def redirect_target(conn: AsyncConnection, code_key: str) -> dict[str, Any] | None:
    """What ``/r/{code}`` needs about a link, found through ``codes`` (the code's workspace).

    On PostgreSQL in two primary-key probes: the workspace from ``codes``, then the link in
    that workspace, a statement a database sharded by workspace sends to that workspace's node
    alone (an unknown code stops after the first). SQLite is never sharded: one statement
    joining the two, which saves a round trip on every cache miss."""
    stmt = select(*REDIRECT_COLUMNS)
    if conn.dialect.name == "postgresql":
        found = select(Code.workspace_id).where(Code.code_key == code_key)
        workspace_id = await conn.scalar(found)
        if workspace_id is None:
            return None
        stmt = stmt.select_from(Link).where(Link.workspace_id == workspace_id)
    else:
        stmt = stmt.select_from(Code).join(
            Link, (Link.workspace_id == Code.workspace_id) & (Link.code_key == Code.code_key)
        )
        stmt = stmt.where(Code.code_key == code_key)
    stmt = with_program_and_app(stmt).where(Link.code_key == code_key)
    row = (await conn.execute(stmt)).mappings().first()
    return dict(row) if row is not None else None


async def insert_clicks(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(Click), rows)


async def new_reach_marks(conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert reach marks (``key``, ``workspace_id``, ``created_at``) that do not exist yet in
    their workspace; return the keys that were new."""
    if not rows:
        return set()
    table = ReachMark.__table__
    stmt = (
        dialect_insert(conn, table)  # type: ignore[arg-type]
        .values(rows)
        .on_conflict_do_nothing(index_elements=["key", "workspace_id"])
        .returning(table.c.key)
    )
    return {row[0] for row in await conn.execute(stmt)}


async def purge_reach_marks(session: AsyncSession, before_hour: int) -> int:
    """Delete the reach marks of hours before ``before_hour`` (a key range: keys start with the
    zero-padded hour); the number deleted.

    Housekeeping across every workspace, not a request: a database sharded by workspace runs
    it on every node at once, each deleting its own range."""
    result = await session.execute(delete(ReachMark).where(ReachMark.key < f"{before_hour:08d}:"))
    return int(getattr(result, "rowcount", 0) or 0)
