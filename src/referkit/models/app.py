from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, TimestampMixin, tenant_id_column, tenant_key
from referkit.db.types import JSONType


class App(TimestampMixin, Base):
    """A mobile (or web) app: its store identities, deep link settings and attribution windows.

    ``platforms`` and ``attribution`` are JSON documents validated by the API schemas; the
    ``/.well-known`` files are built from ``platforms``. Deleting an app deletes this row and
    archives its links (their codes are never reused); its events and rollups stay.
    """

    __tablename__ = "apps"
    __table_args__ = (
        tenant_key("id"),
        Index("ix_apps_workspace_id_livemode_id", "workspace_id", "livemode", "id"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    platforms: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    deep_link_scheme: Mapped[str | None] = mapped_column(String(100), nullable=True)
    link_domain: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attribution: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
