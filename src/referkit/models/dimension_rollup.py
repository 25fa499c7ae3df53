from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import COUNTER_TABLE_STORAGE, Base


class DimensionRollup(Base):
    """Per-day counters of one link or program along one dimension (``country``, ``device``,
    ``os``, ``browser``, ``referrer``, ``utm_source``, ``utm_campaign``, and ``network`` and
    ``campaign`` for app links), one row per group value (``""`` when unknown).

    As in ``rollups``, counts live in the row whose ``currency`` is ``""`` and revenue in one
    row per currency. Rows are upserted in the transaction of the clicks, referrals and events
    they count; a breakdown reads ``days * groups`` rows of one scope and dimension, whatever
    the number of clicks behind them. ``workspace_id`` leads the key: every read names it.
    """

    __tablename__ = "dimension_rollups"
    __table_args__ = {"postgresql_with": COUNTER_TABLE_STORAGE}

    workspace_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    scope_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    livemode: Mapped[bool] = mapped_column()
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    reach: Mapped[int] = mapped_column(BigInteger, default=0)
    signups: Mapped[int] = mapped_column(BigInteger, default=0)
    conversions: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)
