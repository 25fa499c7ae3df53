from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, tenant_fk, tenant_id_column, tenant_key
from referkit.db.types import JSONType, UTCDateTime


class Integration(Base):
    """One ad network's forwarding settings for one app (``meta``, ``google_ads``, …).

    ``credentials`` is a JSON object sealed with the keyring (purpose
    ``integration.service.ENCRYPTION_PURPOSE``, bound to the integration id): it is never
    answered or logged. ``config`` holds the non-secret identifiers (dataset id, customer id,
    postback URL template) and is shown.
    """

    __tablename__ = "app_integrations"
    __table_args__ = (
        tenant_key("id"),
        tenant_fk("app_id", "apps", name="fk_app_integrations_app_id_apps"),
        UniqueConstraint("workspace_id", "app_id", "network"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    app_id: Mapped[str] = mapped_column(String(40))
    network: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    send: Mapped[str] = mapped_column(String(20), default="attributed")
    event_map: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    credentials: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IntegrationForward(Base):
    """One app event to forward through one integration: the outbox row.

    Written in the transaction that stores (and attributes) the event, so a forward exists if
    and only if the event does. ``facts`` is what the request is built from (personal data
    already normalised and hashed), so the dry run and the send share one builder.
    ``next_attempt_at`` is the schedule and the worker's lease, as for webhook messages.
    """

    __tablename__ = "integration_forwards"
    __table_args__ = (
        tenant_key("id"),
        tenant_fk(
            "integration_id",
            "app_integrations",
            name="fk_integration_forwards_integration_id_app_integrations",
        ),
        Index("ix_integration_forwards_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_integration_forwards_integration_id_id", "integration_id", "id"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column()
    integration_id: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(40))
    event_name: Mapped[str] = mapped_column(String(200))
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IntegrationAttempt(Base):
    """One try of one forward: the request without secrets, the answer, how long it took."""

    __tablename__ = "integration_attempts"
    __table_args__ = (
        tenant_key("id"),
        tenant_fk(
            "forward_id",
            "integration_forwards",
            name="fk_integration_attempts_forward_id_integration_forwards",
        ),
        Index("ix_integration_attempts_forward_id", "forward_id"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(String(40))
    forward_id: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(20))
    request: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
