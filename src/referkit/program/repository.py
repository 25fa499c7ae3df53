from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.models import Member, Program, Referral, Rollup


class ProgramRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: str, livemode: bool, program_id: str) -> Program | None:
        result: Program | None = await self.session.scalar(
            select(Program).where(
                Program.id == program_id,
                Program.workspace_id == workspace_id,
                Program.livemode == livemode,
            )
        )
        return result

    async def slug_taken(self, workspace_id: str, livemode: bool, slug: str) -> bool:
        found = await self.session.scalar(
            select(Program.id).where(
                Program.workspace_id == workspace_id,
                Program.livemode == livemode,
                Program.slug == slug,
            )
        )
        return found is not None

    async def page(
        self, workspace_id: str, livemode: bool, status: str | None, params: PageParams
    ) -> tuple[list[Program], PageMeta]:
        stmt = select(Program).where(
            Program.workspace_id == workspace_id, Program.livemode == livemode
        )
        if status is not None:
            stmt = stmt.where(Program.status == status)
        return await paginate(self.session, stmt, Program.id, params)

    async def add(self, program: Program) -> Program:
        self.session.add(program)
        await self.session.flush()
        return program

    async def delete(self, program: Program) -> None:
        # Children first, in the fixed lock order referrals → members (and their links) →
        # program → rollups; click batches lock links before rollups too.
        await self.session.execute(delete(Referral).where(Referral.program_id == program.id))
        await self.session.execute(delete(Member).where(Member.program_id == program.id))
        await self.session.delete(program)
        await self.session.flush()
        await self.session.execute(delete(Rollup).where(Rollup.program_id == program.id))
