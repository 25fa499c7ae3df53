from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, TimestampMixin, tenant_id_column, tenant_key


class Customer(TimestampMixin, Base):
    """Someone the workspace's product knows, identified by external id and/or email."""

    __tablename__ = "customers"
    __table_args__ = (
        tenant_key("id"),
        UniqueConstraint("workspace_id", "livemode", "external_id"),
        UniqueConstraint("workspace_id", "livemode", "email_key"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    email_key: Mapped[str | None] = mapped_column(String(320), nullable=True)
