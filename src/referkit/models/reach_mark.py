from __future__ import annotations

from datetime import datetime

from sqlalchemy import PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base
from referkit.db.types import UTCDateTime


class ReachMark(Base):
    """One row per (visitor hash, link, hour) of a workspace: the first click that inserts it
    counts as reach.

    The key is a hash, so the table holds nothing personal; rows older than a day can be purged.
    ``key`` leads the primary key (it starts with the hour, so the marks of past hours are one
    key range for ``purge_reach_marks``); ``workspace_id`` completes it, so a database sharded
    by workspace keeps each mark on its workspace's node and enforces the key there.
    """

    __tablename__ = "reach_marks"
    __table_args__ = (PrimaryKeyConstraint("key", "workspace_id"),)

    key: Mapped[str] = mapped_column(String(64))
    workspace_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
