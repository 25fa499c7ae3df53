from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, TimestampMixin, tenant_id_column, tenant_key
from referkit.db.types import JSONType, UTCDateTime


class WebhookEndpoint(TimestampMixin, Base):
    """A URL that receives signed event messages.

    ``secret`` signs every message; after a rotation ``previous_secret`` keeps signing too until
    ``previous_secret_expires_at``, so receivers can switch without dropping a message.
    ``failing_since`` and ``consecutive_failures`` drive the automatic disable (circuit breaker);
    ``source`` is ``api`` or ``zapier`` (REST hook subscriptions).
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        tenant_key("id"),
        Index("ix_webhook_endpoints_workspace_id_livemode_id", "workspace_id", "livemode", "id"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(20), default="api")
    # Encrypted (``rkenc1:…``, see kit.crypto.SecretBox), never the secret in clear.
    secret: Mapped[str] = mapped_column(String(255))
    previous_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True
    )
    disabled_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
