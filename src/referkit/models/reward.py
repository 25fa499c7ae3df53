from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import (
    Base,
    TimestampMixin,
    tenant_fk,
    tenant_id_column,
    tenant_key,
)
from referkit.db.types import UTCDateTime


class Reward(TimestampMixin, Base):
    """Something owed to a referrer or a referred friend because a rule fired (or by hand).

    ``dedupe_key`` makes each rule fire once per referral (``rule:referral``) or, for milestones,
    once per member (``rule:member:milestone``): concurrent or replayed events cannot pay twice.
    """

    __tablename__ = "rewards"
    __table_args__ = (
        tenant_key("id"),
        tenant_fk("program_id", "programs", name="fk_rewards_program_id_programs"),
        tenant_fk("member_id", "members", name="fk_rewards_member_id_members"),
        tenant_fk("referral_id", "referrals", name="fk_rewards_referral_id_referrals"),
        UniqueConstraint("workspace_id", "program_id", "dedupe_key"),
        Index("ix_rewards_workspace_id_livemode_id", "workspace_id", "livemode", "id"),
        Index("ix_rewards_status_eligible_at", "status", "eligible_at"),
        # Program pages list the rewards waiting on something (e.g. an empty coupon pool): only
        # held rewards are indexed, so the index stays small and planners with statistics
        # prefer it to the (workspace, program, …) unique index.
        Index(
            "ix_rewards_held",
            "workspace_id",
            "program_id",
            "held_reason",
            postgresql_where=text("held_reason IS NOT NULL"),
            sqlite_where=text("held_reason IS NOT NULL"),
        ),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    program_id: Mapped[str] = mapped_column(String(40), index=True)
    member_id: Mapped[str] = mapped_column(String(40), index=True)
    referral_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    rule_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    dedupe_key: Mapped[str] = mapped_column(String(120))
    recipient: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    coupon_pool: Mapped[str | None] = mapped_column(String(100), nullable=True)
    coupon_code: Mapped[str | None] = mapped_column(String(200), nullable=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    held_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source_event_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    eligible_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str | None] = mapped_column(String(2000), nullable=True)
