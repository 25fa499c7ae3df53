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


class Referral(TimestampMixin, Base):
    """A referred person in one program, with why it was attributed and which fraud signals fired.

    A referee is unique per program by lower-cased email and by external id, so the same friend
    cannot be credited twice.
    """

    __tablename__ = "referrals"
    __table_args__ = (
        tenant_key("id"),
        tenant_fk("program_id", "programs", name="fk_referrals_program_id_programs"),
        tenant_fk("member_id", "members", name="fk_referrals_member_id_members"),
        UniqueConstraint("workspace_id", "program_id", "referee_email_key"),
        UniqueConstraint("workspace_id", "program_id", "referee_external_id"),
        Index("ix_referrals_workspace_id_livemode_id", "workspace_id", "livemode", "id"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    program_id: Mapped[str] = mapped_column(String(40), index=True)
    member_id: Mapped[str] = mapped_column(String(40), index=True)
    referee_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    referee_email_key: Mapped[str | None] = mapped_column(String(320), nullable=True)
    referee_external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    referee_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attribution: Mapped[dict[str, Any]] = mapped_column(JSONType)
    fraud: Mapped[dict[str, Any]] = mapped_column(JSONType)
    note: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    status_history: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    qualified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    denied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
