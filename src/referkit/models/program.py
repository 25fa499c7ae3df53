from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, TimestampMixin, tenant_id_column, tenant_key
from referkit.db.types import JSONType


class Program(TimestampMixin, Base):
    """A referral campaign. Its rule sets are JSON documents validated by the API schemas."""

    __tablename__ = "programs"
    __table_args__ = (
        tenant_key("id"),
        UniqueConstraint("workspace_id", "livemode", "slug"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    livemode: Mapped[bool] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20), default="active")
    landing_url: Mapped[str] = mapped_column(String(2048))
    app_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    allowed_origins: Mapped[list[str]] = mapped_column(JSONType, default=list)
    attribution: Mapped[dict[str, Any]] = mapped_column(JSONType)
    qualification: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reward_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    fraud: Mapped[dict[str, Any]] = mapped_column(JSONType)
    auto_issue: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The embedded referrer dashboard's look (theme, colours, radius, font): see EmbedSettings.
    embed: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=text("'{}'")
    )
