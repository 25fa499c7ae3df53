from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, tenant_fk, tenant_id_column, tenant_key
from referkit.db.types import UTCDateTime


class Coupon(Base):
    """A code in a program's coupon pool; ``reward_id`` is set when a reward takes it."""

    __tablename__ = "coupons"
    __table_args__ = (
        tenant_key("id"),
        tenant_fk("program_id", "programs", name="fk_coupons_program_id_programs"),
        UniqueConstraint("workspace_id", "program_id", "pool", "code"),
        Index("ix_coupons_program_id_pool_reward_id", "program_id", "pool", "reward_id"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    program_id: Mapped[str] = mapped_column(String(40))
    pool: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(200))
    reward_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
