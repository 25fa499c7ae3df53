"""Dashboard accounts and sessions: users, roles per workspace, invitations, browser sessions.

A session is a row keyed by the SHA-256 of a random cookie token: revoking it (sign-out, an
admin removing a user, "sign out everywhere") takes effect on the very next request. It dies
``absolute`` after sign-in, or after ``idle`` without a request. The dashboard acts on the
domain services through a ``Principal`` built from the session: ``full`` for an admin,
``read_only`` for a viewer, in the session's workspace and mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal, Scope
from referkit.dashboard.exceptions import SignInFailed
from referkit.dashboard.passwords import hash_password, password_problem, verify_password
from referkit.dashboard.repository import DashboardRepository
from referkit.errors import Conflict, NotFound, Unprocessable
from referkit.kit.crypto import hash_secret, random_token
from referkit.kit.email import canonical_email
from referkit.kit.ids import new_id
from referkit.kit.time import utcnow
from referkit.models import (
    DashboardInvite,
    DashboardMembership,
    DashboardSession,
    DashboardUser,
    Workspace,
)

TOUCH_RESOLUTION = timedelta(minutes=1)
INVITE_LIFETIME = timedelta(days=7)


class Role(StrEnum):
    admin = "admin"
    viewer = "viewer"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, in the workspace and mode their session is on."""

    user: DashboardUser
    session: DashboardSession
    role: Role
    workspaces: list[tuple[Workspace, str]]

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    @property
    def workspace(self) -> Workspace:
        return next(w for w, _ in self.workspaces if w.id == self.session.workspace_id)

    @property
    def principal(self) -> Principal:
        return Principal(
            workspace_id=self.session.workspace_id,
            key_id=f"dashboard:{self.user.id}",
            scope=Scope.full if self.is_admin else Scope.read_only,
            livemode=self.session.livemode,
        )


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta
    absolute: timedelta


def _bad_password(message: str) -> Unprocessable:
    return Unprocessable(
        message,
        errors=[{"field": "password", "in": "body", "message": message, "type": "value_error"}],
    )


class UserService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = DashboardRepository(session)

    async def create(self, email: str, password: str, name: str | None = None) -> DashboardUser:
        problem = password_problem(password)
        if problem:
            raise _bad_password(problem)
        address = canonical_email(email)
        if await self.repo.user_by_email(address) is not None:
            raise Conflict(f"A dashboard user {address} already exists.")
        user = DashboardUser(
            id=new_id("usr"),
            email=address,
            name=name,
            password_hash=await hash_password(password),
            created_at=utcnow(),
        )
        try:
            async with self.session.begin_nested():
                await self.repo.add(user)
        except IntegrityError:
            raise Conflict(f"A dashboard user {address} already exists.") from None
        return user

    async def by_email(self, email: str) -> DashboardUser | None:
        return await self.repo.user_by_email(canonical_email(email))

    async def set_password(self, user: DashboardUser, password: str) -> None:
        problem = password_problem(password)
        if problem:
            raise _bad_password(problem)
        user.password_hash = await hash_password(password)
        await self.session.flush()

    async def change_password(self, user: DashboardUser, current: str, new: str) -> None:
        """Set a new password after checking the current one."""
        ok, _ = await verify_password(current, user.password_hash)
        if not ok:
            raise SignInFailed("The current password is wrong.")
        await self.set_password(user, new)

    async def grant(self, user_id: str, workspace_id: str, role: Role) -> None:
        """Give ``user_id`` ``role`` in the workspace (changing the role if already a member)."""
        existing = await self.repo.membership(user_id, workspace_id)
        if existing is not None:
            if existing.role == Role.admin and role is not Role.admin:
                await self._keep_an_admin(workspace_id)
            existing.role = role.value
            await self.session.flush()
            return
        await self.repo.add(
            DashboardMembership(
                user_id=user_id, workspace_id=workspace_id, role=role.value, created_at=utcnow()
            )
        )

    async def remove(self, workspace_id: str, user_id: str) -> None:
        """Take a user out of the workspace; their sessions there end at once."""
        membership = await self.repo.membership(user_id, workspace_id)
        if membership is None:
            raise NotFound(f"No dashboard user {user_id} in this workspace.")
        if membership.role == Role.admin:
            await self._keep_an_admin(workspace_id)
        await self.repo.remove_membership(membership)
        await self.repo.revoke_sessions(user_id, utcnow(), workspace_id=workspace_id)

    async def _keep_an_admin(self, workspace_id: str) -> None:
        if await self.repo.admin_count(workspace_id) <= 1:
            raise Conflict("A workspace keeps at least one admin.")

    async def authenticate(self, email: str, password: str) -> DashboardUser:
        user = await self.repo.user_by_email(canonical_email(email)) if "@" in email else None
        ok, new_hash = await verify_password(password, user.password_hash if user else None)
        if user is None or not ok or user.disabled_at is not None:
            raise SignInFailed("The email or password is wrong.")
        if new_hash:  # argon2 parameters were raised since this hash was made
            user.password_hash = new_hash
        user.last_login_at = utcnow()
        await self.session.flush()
        return user

    async def workspaces(self, user_id: str) -> list[tuple[Workspace, str]]:
        return await self.repo.workspaces_of(user_id)

    async def users_of(self, workspace_id: str) -> list[tuple[DashboardUser, str]]:
        return await self.repo.users_of(workspace_id)

    # Invitations ------------------------------------------------------------------------------

    async def invite(
        self, workspace_id: str, role: Role, created_by: str | None, email: str | None = None
    ) -> tuple[DashboardInvite, str]:
        """A new invitation and its token (shown once: only its hash is stored)."""
        token = random_token(24)
        now = utcnow()
        invite = DashboardInvite(
            id=new_id("inv"),
            token_hash=hash_secret(token),
            workspace_id=workspace_id,
            role=role.value,
            email=canonical_email(email) if email else None,
            created_by=created_by,
            created_at=now,
            expires_at=now + INVITE_LIFETIME,
        )
        await self.repo.add(invite)
        return invite, token

    async def open_invite(self, token: str) -> DashboardInvite:
        invite = await self.repo.invite_by_hash(hash_secret(token)) if token else None
        if invite is None or invite.accepted_at is not None or invite.expires_at <= utcnow():
            raise NotFound("This invitation is unknown, used or expired.")
        return invite

    async def accept(self, token: str, user: DashboardUser) -> DashboardInvite:
        invite = await self.open_invite(token)
        if invite.email and invite.email != user.email:
            raise Unprocessable(f"This invitation is for {invite.email}.")
        membership = await self.repo.membership(user.id, invite.workspace_id)
        if membership is None:
            await self.grant(user.id, invite.workspace_id, Role(invite.role))
        invite.accepted_at, invite.accepted_by = utcnow(), user.id
        await self.session.flush()
        return invite

    async def open_invites(self, workspace_id: str) -> list[DashboardInvite]:
        return await self.repo.open_invites(workspace_id, utcnow())

    async def withdraw_invite(self, workspace_id: str, invite_id: str) -> None:
        invite = await self.repo.invite(workspace_id, invite_id)
        if invite is None:
            raise NotFound(f"No invitation {invite_id} in this workspace.")
        await self.repo.delete(invite)


class SessionService:
    def __init__(self, session: AsyncSession, lifetimes: Lifetimes) -> None:
        self.session = session
        self.repo = DashboardRepository(session)
        self.lifetimes = lifetimes

    async def start(
        self, user: DashboardUser, *, ip: str | None, user_agent: str | None
    ) -> tuple[DashboardSession, str]:
        """A new session (and its cookie token) in the user's first workspace, live mode."""
        workspaces = await self.repo.workspaces_of(user.id)
        if not workspaces:
            raise SignInFailed("This account belongs to no workspace; ask an admin for an invite.")
        token = random_token(32)
        now = utcnow()
        row = DashboardSession(
            id=new_id("sess"),
            token_hash=hash_secret(token),
            user_id=user.id,
            workspace_id=workspaces[0][0].id,
            livemode=True,
            csrf_token=random_token(24),
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.lifetimes.absolute,
        )
        await self.repo.add(row)
        return row, token

    def alive(self, row: DashboardSession, now: datetime) -> bool:
        return (
            row.revoked_at is None
            and row.expires_at > now
            and row.last_seen_at + self.lifetimes.idle > now
        )

    async def resolve(self, token: str | None) -> Viewer | None:
        """The viewer behind a cookie token, or None (unknown, revoked, expired, idle)."""
        if not token or len(token) > 200:
            return None
        row = await self.repo.session_by_hash(hash_secret(token))
        if row is None or not self.alive(row, utcnow()):
            return None
        user = await self.repo.user(row.user_id)
        if user is None or user.disabled_at is not None:
            return None
        workspaces = await self.repo.workspaces_of(user.id)
        role = next((r for w, r in workspaces if w.id == row.workspace_id), None)
        if role is None:  # removed from this workspace since
            return None
        return Viewer(user=user, session=row, role=Role(role), workspaces=workspaces)

    @staticmethod
    def needs_touch(row: DashboardSession) -> bool:
        return utcnow() - row.last_seen_at >= TOUCH_RESOLUTION

    async def touch(self, session_id: str) -> None:
        """Record activity (kept to the minute, so most requests write nothing)."""
        now = utcnow()
        await self.repo.touch(session_id, now, now - TOUCH_RESOLUTION)

    async def switch(self, viewer: Viewer, workspace_id: str | None, livemode: bool | None) -> None:
        row = await self.repo.session_row(viewer.session.id)
        assert row is not None
        if workspace_id is not None:
            if not any(w.id == workspace_id for w, _ in viewer.workspaces):
                raise NotFound(f"No workspace {workspace_id} among yours.")
            row.workspace_id = workspace_id
        if livemode is not None:
            row.livemode = livemode
        await self.session.flush()

    async def revoke(self, user_id: str, session_id: str) -> None:
        row = await self.repo.session_row(session_id)
        if row is None or row.user_id != user_id:
            raise NotFound(f"No session {session_id} of yours.")
        row.revoked_at = utcnow()
        await self.session.flush()

    async def revoke_all(self, user_id: str, *, keep: str | None = None) -> None:
        """End every session of the user (but ``keep``, the one asking, if given)."""
        await self.repo.revoke_sessions(user_id, utcnow(), workspace_id=None, keep=keep)

    async def live_sessions(self, user_id: str) -> list[DashboardSession]:
        now = utcnow()
        return [s for s in await self.repo.live_sessions_of(user_id, now) if self.alive(s, now)]
