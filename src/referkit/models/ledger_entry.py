from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, tenant_fk, tenant_id_column, tenant_key
from referkit.db.types import UTCDateTime


class LedgerEntry(Base):
    """One movement of one reward. Append-only: entries are never updated or deleted.

    ``pending_delta`` and ``issued_delta`` move value between the two balances a member has per
    currency (earned-but-not-yet-paid, and paid): created +pending; issued -pending +issued;
    cancelled -pending; reversed -pending or -issued. A balance is the sum of its column.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        tenant_key("id"),
        tenant_fk("member_id", "members", name="fk_ledger_entries_member_id_members"),
        tenant_fk("reward_id", "rewards", name="fk_ledger_entries_reward_id_rewards"),
        Index("ix_ledger_entries_member_id_currency", "member_id", "currency"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    member_id: Mapped[str] = mapped_column(String(40))
    reward_id: Mapped[str] = mapped_column(String(40), index=True)
    recipient: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str] = mapped_column(String(10), doc="ISO currency, or 'points'")
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    pending_delta: Mapped[int] = mapped_column(BigInteger)
    issued_delta: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
