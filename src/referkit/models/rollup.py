from __future__ import annotations

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import COUNTER_TABLE_STORAGE, Base, tenant_key


class Rollup(Base):
    """Per-day counters for one scope (``link``, ``member`` or ``program``), plus per-month and
    all-time counters per member (``mem_month``, ``mem_all``) for the leaderboard.

    Counts live in the row whose ``currency`` is ``""``; revenue lives in one row per currency.
    Rows are upserted (``counter = counter + delta``) in the same transaction as the clicks,
    events and referrals they count; every stats read sums these rows and nothing else.
    """

    __tablename__ = "rollups"
    __table_args__ = (
        tenant_key("scope", "scope_id", "day", "currency"),
        Index("ix_rollups_program_id_scope_day", "program_id", "scope", "day"),
        # The leaderboard: one program's member buckets of one period, best first (read backwards).
        Index(
            "ix_rollups_leaderboard",
            "program_id",
            "scope",
            "day",
            "currency",
            "qualified",
            "referrals",
            "reach",
        ),
        {"postgresql_with": COUNTER_TABLE_STORAGE},
    )

    scope: Mapped[str] = mapped_column(String(10))
    scope_id: Mapped[str] = mapped_column(String(40))
    day: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    workspace_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column()
    program_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    bot_clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    reach: Mapped[int] = mapped_column(BigInteger, default=0)
    installs: Mapped[int] = mapped_column(BigInteger, default=0)
    signups: Mapped[int] = mapped_column(BigInteger, default=0)
    referrals: Mapped[int] = mapped_column(BigInteger, default=0)
    qualified: Mapped[int] = mapped_column(BigInteger, default=0)
    conversions: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)
