from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.kit.search import matches_any
from referkit.models import Referral


class ReferralRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: str, livemode: bool, referral_id: str) -> Referral | None:
        result: Referral | None = await self.session.scalar(
            select(Referral).where(
                Referral.id == referral_id,
                Referral.workspace_id == workspace_id,
                Referral.livemode == livemode,
            )
        )
        return result

    async def existing_referee(
        self, program_id: str, email_key: str | None, external_id: str | None
    ) -> Referral | None:
        for column, value in (
            (Referral.referee_external_id, external_id),
            (Referral.referee_email_key, email_key),
        ):
            if value is None:
                continue
            found: Referral | None = await self.session.scalar(
                select(Referral).where(Referral.program_id == program_id, column == value)
            )
            if found is not None:
                return found
        return None

    async def latest_for_referee(
        self, workspace_id: str, livemode: bool, email_key: str | None, external_id: str | None
    ) -> Referral | None:
        """The newest referral of this person in any program of the workspace."""
        for column, value in (
            (Referral.referee_external_id, external_id),
            (Referral.referee_email_key, email_key),
        ):
            if value is None:
                continue
            found: Referral | None = await self.session.scalar(
                select(Referral)
                .where(
                    Referral.workspace_id == workspace_id,
                    Referral.livemode == livemode,
                    column == value,
                )
                .order_by(Referral.id.desc())
                .limit(1)
            )
            if found is not None:
                return found
        return None

    async def page(
        self,
        workspace_id: str,
        livemode: bool,
        params: PageParams,
        *,
        program_id: str | None = None,
        member_id: str | None = None,
        status: str | None = None,
        q: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> tuple[list[Referral], PageMeta]:
        stmt = select(Referral).where(
            Referral.workspace_id == workspace_id, Referral.livemode == livemode
        )
        if program_id is not None:
            stmt = stmt.where(Referral.program_id == program_id)
        if member_id is not None:
            stmt = stmt.where(Referral.member_id == member_id)
        if status is not None:
            stmt = stmt.where(Referral.status == status)
        if q:
            stmt = stmt.where(
                matches_any(
                    q, Referral.referee_email, Referral.referee_name, Referral.referee_external_id
                )
            )
        if created_after is not None:
            stmt = stmt.where(Referral.created_at >= created_after)
        if created_before is not None:
            stmt = stmt.where(Referral.created_at < created_before)
        return await paginate(self.session, stmt, Referral.id, params)

    async def count_by_member_since(self, member_id: str, since: datetime) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(Referral)
            .where(Referral.member_id == member_id, Referral.created_at >= since)
        )
        return int(count or 0)

    async def add(self, referral: Referral) -> Referral:
        self.session.add(referral)
        await self.session.flush()
        return referral
