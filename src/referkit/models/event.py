from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, tenant_id_column, tenant_key
from referkit.db.types import JSONType, UTCDateTime


class Event(Base):
    """A conversion event, idempotent on the client's ``event_id`` per workspace and mode.

    ``attribution`` stores the decision with its explanation (candidates, winning rule, window,
    model). Written by the event batcher. ``visitor_id`` is the ``rk_vid`` cookie the client
    forwarded; with ``ip`` it is what the same-device fraud check knows of the customer's device
    (looked up by customer, newest first: ``ix_events_customer_id_id``, which holds only the
    events that have a customer).
    """

    __tablename__ = "events"
    __table_args__ = (
        tenant_key("id"),
        UniqueConstraint("workspace_id", "livemode", "event_id"),
        Index("ix_events_workspace_id_livemode_id", "workspace_id", "livemode", "id"),
        Index(
            "ix_events_customer_id_id",
            "customer_id",
            "id",
            postgresql_where=text("customer_id IS NOT NULL"),
            sqlite_where=text("customer_id IS NOT NULL"),
        ),
    )

    id: Mapped[str] = tenant_id_column()
    # No foreign key, as on clicks: the key's workspace, never the request's (see Click).
    workspace_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column()
    event_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    app_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    program_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    customer_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    click_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    link_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    member_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    referral_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    refunded_event_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    attribution: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    visitor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
