from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import (
    Base,
    TimestampMixin,
    tenant_fk,
    tenant_id_column,
    tenant_key,
)
from referkit.db.types import UTCDateTime


class WebhookMessage(TimestampMixin, Base):
    """One event for one endpoint: the outbox row, written in the transaction of the change.

    ``id`` is the ``webhook-id`` header, the same on every attempt, so receivers can drop
    duplicates. ``body`` is the exact JSON sent (signatures cover it byte for byte).
    ``next_attempt_at`` is both the schedule and the worker's lease: a claimed message is pushed
    into the future before it is sent, so a worker killed mid-delivery only delays it.
    """

    __tablename__ = "webhook_messages"
    __table_args__ = (
        tenant_key("id"),
        tenant_fk(
            "endpoint_id",
            "webhook_endpoints",
            name="fk_webhook_messages_endpoint_id_webhook_endpoints",
        ),
        Index("ix_webhook_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_messages_endpoint_id_id", "endpoint_id", "id"),
        Index(
            "ix_webhook_messages_workspace_id_livemode_event_type",
            "workspace_id",
            "livemode",
            "event_type",
        ),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    endpoint_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
