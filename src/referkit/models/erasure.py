from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, tenant_id_column, tenant_key
from referkit.db.types import JSONType, UTCDateTime


class Erasure(Base):
    """The record that a person's personal data was erased: who asked (the API key), when, and
    how many rows of each kind were erased or redacted — never the erased data itself.

    ``subject_id`` is the opaque id the erasure was asked for (``cus_…`` or ``mem_…``); once
    the erasure has run nothing personal is linked to it any more.
    """

    __tablename__ = "erasures"
    __table_args__ = (
        tenant_key("id"),
        Index("ix_erasures_workspace_id_livemode_id", "workspace_id", "livemode", "id"),
        Index("ix_erasures_subject_id", "subject_id"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    counts: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
