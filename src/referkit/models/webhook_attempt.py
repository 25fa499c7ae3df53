from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, tenant_fk, tenant_id_column, tenant_key
from referkit.db.types import UTCDateTime


class WebhookAttempt(Base):
    """One try at delivering a message: the delivery log."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        tenant_key("id"),
        tenant_fk(
            "message_id", "webhook_messages", name="fk_webhook_attempts_message_id_webhook_messages"
        ),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(String(40))
    message_id: Mapped[str] = mapped_column(String(40), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    response_body: Mapped[str | None] = mapped_column(String(1000), nullable=True)
