from __future__ import annotations

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import COUNTER_TABLE_STORAGE, Base, tenant_key


class AppRollup(Base):
    """Per-day counters of one app along one dimension: ``app`` (value ``""``), ``link``,
    ``network`` or ``campaign`` (value ``""`` when none).

    As in ``rollups``, counts live in the row whose ``currency`` is ``""`` and revenue in one
    row per currency; rows are upserted in the transaction of the clicks and events they count.
    App stats, overview and portfolio read these rows only: their cost grows with the days
    (and groups) asked for, never with the events stored.
    """

    __tablename__ = "app_rollups"
    __table_args__ = (
        tenant_key("app_id", "dimension", "value", "day", "currency"),
        # One app's groups over a range of days (stats, overview): days * groups rows.
        Index("ix_app_rollups_app_id_dimension_day", "app_id", "dimension", "day"),
        # Every app of a workspace over a range of days (portfolio).
        Index(
            "ix_app_rollups_workspace_id_livemode_dimension_day",
            "workspace_id",
            "livemode",
            "dimension",
            "day",
        ),
        {"postgresql_with": COUNTER_TABLE_STORAGE},
    )

    app_id: Mapped[str] = mapped_column(String(40))
    dimension: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(200))
    day: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    workspace_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column()
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    installs: Mapped[int] = mapped_column(BigInteger, default=0)
    reinstalls: Mapped[int] = mapped_column(BigInteger, default=0)
    opens: Mapped[int] = mapped_column(BigInteger, default=0)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    conversions: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)
