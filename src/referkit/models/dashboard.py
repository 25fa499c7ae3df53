"""Dashboard people: users, their workspace memberships, browser sessions and invitations.

Session and invitation tokens are stored only as SHA-256 hashes (like API key secrets): a copy
of the database does not let anyone sign in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, id_column
from referkit.db.types import UTCDateTime
from referkit.kit.time import utcnow


class DashboardUser(Base):
    __tablename__ = "dashboard_users"

    id: Mapped[str] = id_column()
    email: Mapped[str] = mapped_column(String(320), unique=True, doc="canonical (lower-case)")
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DashboardMembership(Base):
    """A user's role (``admin`` or ``viewer``) in one workspace."""

    __tablename__ = "dashboard_memberships"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("dashboard_users.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DashboardSession(Base):
    """A signed-in browser. Revoked by setting ``revoked_at``; dead after ``expires_at``
    (absolute) or after the idle timeout counted from ``last_seen_at``."""

    __tablename__ = "dashboard_sessions"
    __table_args__ = (Index("ix_dashboard_sessions_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[str] = id_column()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("dashboard_users.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    csrf_token: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DashboardInvite(Base):
    """A one-time link that adds whoever opens it (with a new or existing account) to a
    workspace with a role."""

    __tablename__ = "dashboard_invites"

    id: Mapped[str] = id_column()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(10))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("dashboard_users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    accepted_by: Mapped[str | None] = mapped_column(
        ForeignKey("dashboard_users.id", ondelete="SET NULL"), nullable=True
    )
