"""Queries attribution needs: clicks by id and by visitor cookie, within a window."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.partitions import created_near
from referkit.models import Click


class ClickRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: str, livemode: bool, click_id: str) -> Click | None:
        result: Click | None = await self.session.scalar(
            select(Click).where(
                Click.id == click_id,
                Click.workspace_id == workspace_id,
                Click.livemode == livemode,
                created_near(Click.created_at, click_id),  # one monthly partition
            )
        )
        return result

    async def for_visitor(
        self, workspace_id: str, livemode: bool, visitor_id: str, since: datetime, until: datetime
    ) -> list[Click]:
        """A visitor's countable clicks in a window, oldest first (bounded: at most 50)."""
        stmt = (
            select(Click)
            .where(
                Click.visitor_id == visitor_id,
                Click.workspace_id == workspace_id,
                Click.livemode == livemode,
                Click.created_at >= since,
                Click.created_at <= until,
                Click.is_orphan.is_(False),
                Click.is_bot.is_(False),
                Click.member_id.is_not(None),
            )
            .order_by(Click.created_at)
            .limit(50)
        )
        return list((await self.session.scalars(stmt)).all())
