from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import (
    Base,
    TimestampMixin,
    tenant_fk,
    tenant_id_column,
    tenant_key,
)
from referkit.db.types import JSONType, UTCDateTime


class Member(TimestampMixin, Base):
    """A referrer in one program.

    ``email_key`` (lower-cased email) and ``external_id`` are each unique within a program, which
    is what makes create-or-fetch return one row under concurrent calls. ``code_key`` (lower-cased
    referral code) is unique across the installation because ``/r/{code}`` carries no workspace:
    the ``codes`` reference table (``Code``) holds that namespace; here it is unique per
    workspace.
    A deleted member keeps its row as a tombstone with personal data erased, so its code is never
    handed to someone else and its referrals keep their history.

    ``ip`` and ``visitor_id`` (the ``rk_vid`` cookie) are the referrer's own device, given when the
    member is created; the same-device fraud check compares referees with them. Never shown in
    the API.
    """

    __tablename__ = "members"
    __table_args__ = (
        tenant_key("id"),
        tenant_fk("program_id", "programs", name="fk_members_program_id_programs"),
        UniqueConstraint("workspace_id", "program_id", "email_key"),
        UniqueConstraint("workspace_id", "program_id", "external_id"),
        UniqueConstraint("workspace_id", "code_key"),
        Index("ix_members_workspace_id_livemode_id", "workspace_id", "livemode", "id"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    program_id: Mapped[str] = mapped_column(String(40), index=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    email_key: Mapped[str | None] = mapped_column(String(320), nullable=True)
    email_canonical: Mapped[str | None] = mapped_column(String(320), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    referral_code: Mapped[str] = mapped_column(String(40))
    code_key: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="active")
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    visitor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
