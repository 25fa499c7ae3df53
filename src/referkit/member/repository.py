from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.lookup import one_by, owned_by_id
from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.kit.search import matches_any
from referkit.models import Member


class MemberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _one(self, *conditions: object) -> Member | None:
        stmt = select(Member).where(Member.deleted_at.is_(None), *conditions)  # type: ignore[arg-type]
        result: Member | None = await self.session.scalar(stmt)
        return result

    async def get(self, workspace_id: str, livemode: bool, member_id: str) -> Member | None:
        return await owned_by_id(
            self.session, Member, workspace_id, livemode, member_id, live_only=True
        )

    async def by_ids(self, workspace_id: str, livemode: bool, ids: list[str]) -> list[Member]:
        if not ids:
            return []
        stmt = select(Member).where(
            Member.id.in_(ids),
            Member.workspace_id == workspace_id,
            Member.livemode == livemode,
            Member.deleted_at.is_(None),
        )
        return list((await self.session.scalars(stmt)).all())

    async def by_email(self, workspace_id: str, program_id: str, email_key: str) -> Member | None:
        return await self._in_program(workspace_id, program_id, email_key=email_key)

    async def by_external_id(
        self, workspace_id: str, program_id: str, external_id: str
    ) -> Member | None:
        return await self._in_program(workspace_id, program_id, external_id=external_id)

    async def _in_program(
        self, workspace_id: str, program_id: str, **identity: str
    ) -> Member | None:
        """The program's member (not deleted) with this identity (an email key or external id)."""
        return await one_by(
            self.session,
            Member,
            live_only=True,
            workspace_id=workspace_id,
            program_id=program_id,
            **identity,
        )

    async def by_code(self, workspace_id: str, livemode: bool, code_key: str) -> Member | None:
        return await self._one(
            Member.code_key == code_key,
            Member.workspace_id == workspace_id,
            Member.livemode == livemode,
        )

    async def page(
        self,
        workspace_id: str,
        livemode: bool,
        params: PageParams,
        *,
        program_id: str | None,
        q: str | None = None,
        status: str | None = None,
        email_key: str | None = None,
        external_id: str | None = None,
    ) -> tuple[list[Member], PageMeta]:
        stmt = select(Member).where(
            Member.workspace_id == workspace_id,
            Member.livemode == livemode,
            Member.deleted_at.is_(None),
        )
        if program_id is not None:
            stmt = stmt.where(Member.program_id == program_id)
        if q:
            stmt = stmt.where(
                matches_any(q, Member.email, Member.external_id, Member.referral_code, Member.name)
            )
        if status is not None:
            stmt = stmt.where(Member.status == status)
        if email_key is not None:
            stmt = stmt.where(Member.email_key == email_key)
        if external_id is not None:
            stmt = stmt.where(Member.external_id == external_id)
        return await paginate(self.session, stmt, Member.id, params)

    async def add(self, member: Member) -> Member:
        self.session.add(member)
        await self.session.flush()
        return member
