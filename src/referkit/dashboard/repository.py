"""Queries for dashboard users, memberships, sessions and invitations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.models import (
    DashboardInvite,
    DashboardMembership,
    DashboardSession,
    DashboardUser,
    Workspace,
)


class DashboardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user(self, user_id: str) -> DashboardUser | None:
        return await self.session.get(DashboardUser, user_id)

    async def user_by_email(self, email: str) -> DashboardUser | None:
        stmt = select(DashboardUser).where(DashboardUser.email == email)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, row: object) -> None:
        self.session.add(row)
        await self.session.flush()

    async def membership(self, user_id: str, workspace_id: str) -> DashboardMembership | None:
        return await self.session.get(DashboardMembership, (user_id, workspace_id))

    async def workspaces_of(self, user_id: str) -> list[tuple[Workspace, str]]:
        stmt = (
            select(Workspace, DashboardMembership.role)
            .join(DashboardMembership, DashboardMembership.workspace_id == Workspace.id)
            .where(DashboardMembership.user_id == user_id)
            .order_by(Workspace.name)
        )
        return [(row[0], row[1]) for row in await self.session.execute(stmt)]

    async def users_of(self, workspace_id: str) -> list[tuple[DashboardUser, str]]:
        stmt = (
            select(DashboardUser, DashboardMembership.role)
            .join(DashboardMembership, DashboardMembership.user_id == DashboardUser.id)
            .where(DashboardMembership.workspace_id == workspace_id)
            .order_by(DashboardUser.email)
        )
        return [(row[0], row[1]) for row in await self.session.execute(stmt)]

    async def admin_count(self, workspace_id: str) -> int:
        stmt = select(DashboardMembership.user_id).where(
            DashboardMembership.workspace_id == workspace_id, DashboardMembership.role == "admin"
        )
        return len((await self.session.execute(stmt)).all())

    async def remove_membership(self, membership: DashboardMembership) -> None:
        await self.session.delete(membership)
        await self.session.flush()

    async def session_by_hash(self, token_hash: str) -> DashboardSession | None:
        stmt = select(DashboardSession).where(DashboardSession.token_hash == token_hash)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def session_row(self, session_id: str) -> DashboardSession | None:
        return await self.session.get(DashboardSession, session_id)

    async def live_sessions_of(self, user_id: str, now: datetime) -> list[DashboardSession]:
        stmt = (
            select(DashboardSession)
            .where(
                DashboardSession.user_id == user_id,
                DashboardSession.revoked_at.is_(None),
                DashboardSession.expires_at > now,
            )
            .order_by(DashboardSession.created_at.desc())
            .limit(50)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def touch(self, session_id: str, now: datetime, unless_since: datetime) -> None:
        await self.session.execute(
            update(DashboardSession)
            .where(DashboardSession.id == session_id, DashboardSession.last_seen_at < unless_since)
            .values(last_seen_at=now)
        )

    async def revoke_sessions(
        self, user_id: str, now: datetime, *, workspace_id: str | None, keep: str | None = None
    ) -> None:
        stmt = update(DashboardSession).where(
            DashboardSession.user_id == user_id, DashboardSession.revoked_at.is_(None)
        )
        if workspace_id is not None:
            stmt = stmt.where(DashboardSession.workspace_id == workspace_id)
        if keep is not None:
            stmt = stmt.where(DashboardSession.id != keep)
        await self.session.execute(stmt.values(revoked_at=now))

    async def invite_by_hash(self, token_hash: str) -> DashboardInvite | None:
        stmt = select(DashboardInvite).where(DashboardInvite.token_hash == token_hash)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def open_invites(self, workspace_id: str, now: datetime) -> list[DashboardInvite]:
        stmt = (
            select(DashboardInvite)
            .where(
                DashboardInvite.workspace_id == workspace_id,
                DashboardInvite.accepted_at.is_(None),
                DashboardInvite.expires_at > now,
            )
            .order_by(DashboardInvite.created_at.desc())
            .limit(100)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def invite(self, workspace_id: str, invite_id: str) -> DashboardInvite | None:
        row = await self.session.get(DashboardInvite, invite_id)
        return row if row is not None and row.workspace_id == workspace_id else None

    async def delete(self, row: object) -> None:
        await self.session.delete(row)
        await self.session.flush()
