from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, tenant_id_column, tenant_key
from referkit.db.types import UTCDateTime


class IdempotencyKey(Base):
    """One ``Idempotency-Key`` used by one API key: the request's fingerprint and, once it has
    completed, the response to replay. Rows older than the retention period are purged."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (tenant_key("id"), UniqueConstraint("workspace_id", "api_key_id", "key"))

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(String(40))
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
