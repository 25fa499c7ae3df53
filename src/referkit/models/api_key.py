from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, id_column
from referkit.db.types import UTCDateTime
from referkit.kit.time import utcnow


class ApiKey(Base):
    """An API credential. Only the SHA-256 of the secret is stored; the secret is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(20))
    livemode: Mapped[bool] = mapped_column()
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hint: Mapped[str] = mapped_column(String(32))
    app_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    """Set on an app's client key (``pk_app_…``): it may only send that app's events."""
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def mode(self) -> str:
        return "live" if self.livemode else "test"
