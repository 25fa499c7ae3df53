from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.lookup import owned_by_id, owned_row_by_id
from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.models import Code, Link, Member, Program, Referral, Rollup


class ProgramRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: str, livemode: bool, program_id: str) -> Program | None:
        return await owned_by_id(self.session, Program, workspace_id, livemode, program_id)

    async def row(self, workspace_id: str, livemode: bool, program_id: str) -> Row[Any] | None:
        """``get`` as a plain row of the program's columns, to answer a read."""
        return await owned_row_by_id(self.session, Program, workspace_id, livemode, program_id)

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
        ws = program.workspace_id
        # The codes of the members and links that go (links by cascade) are free again.
        codes = set(
            await self.session.scalars(
                select(Link.code_key).where(Link.workspace_id == ws, Link.program_id == program.id)
            )
        )
        await self.session.execute(
            delete(Referral).where(Referral.workspace_id == ws, Referral.program_id == program.id)
        )
        members = await self.session.execute(
            delete(Member)
            .where(Member.workspace_id == ws, Member.program_id == program.id)
            .returning(Member.code_key)
        )
        codes.update(row[0] for row in members)
        await self.session.delete(program)
        await self.session.flush()
        if codes:
            await self.session.execute(
                delete(Code).where(Code.workspace_id == ws, Code.code_key.in_(codes))
            )
        await self.session.execute(
            delete(Rollup).where(Rollup.workspace_id == ws, Rollup.program_id == program.id)
        )
