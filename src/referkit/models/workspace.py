from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, id_column
from referkit.db.types import UTCDateTime
from referkit.kit.time import utcnow


class Workspace(Base):
    """A tenant. Every other row belongs to exactly one workspace.

    ``raw_detail_days`` is the retention setting: raw click and event detail (IP, user agent,
    referer, properties) older than this many days is purged by the worker (null: kept).
    ``detail_purged_before`` is how far the last purge got, so the next one starts there.
    """

    __tablename__ = "workspaces"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    raw_detail_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail_purged_before: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
