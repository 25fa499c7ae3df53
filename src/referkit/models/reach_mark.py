from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base
from referkit.db.types import UTCDateTime


class ReachMark(Base):
    """One row per (visitor hash, link, hour): the first click that inserts it counts as reach.

    The key is a hash, so the table holds nothing personal; rows older than a day can be purged.
    """

    __tablename__ = "reach_marks"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
