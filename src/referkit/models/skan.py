from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, tenant_id_column, tenant_key
from referkit.db.types import JSONType, UTCDateTime


class SkanSchema(Base):
    """One version of an app's SKAdNetwork / AdAttributionKit conversion-value schema.

    Versions are append-only: ``PUT …/skan`` adds the next one, so a postback that arrives
    weeks after its install is decoded with the schema that was in force when the app set the
    value (the newest version created at or before the install's estimated time).
    """

    __tablename__ = "skan_schemas"
    __table_args__ = (tenant_key("id"), UniqueConstraint("workspace_id", "app_id", "version"))

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column()
    app_id: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SkanPostback(Base):
    """A postback Apple's device sent (SKAdNetwork 2.2-4 JSON or AdAttributionKit JWS).

    Every postback is kept, verified or not; only ``verified`` rows are counted. ``app_id`` is
    the app whose iOS ``app_store_id`` equals the postback's ``app-id``, found before the row
    is stored, and ``workspace_id`` is that app's: ``''`` when no app matches (Apple's device
    names no workspace), where the row is kept for the operator and never counted. At most one
    verified row exists per ``transaction_id`` in a workspace (Apple retries a postback until it
    gets a 200, always with the same ``app-id``, so its retries find the same workspace): a
    replay is a duplicate while a forged copy of a real transaction cannot displace it.
    """

    __tablename__ = "skan_postbacks"
    __table_args__ = (
        tenant_key("id"),
        UniqueConstraint("workspace_id", "transaction_id", "verified"),
        Index(
            "ix_skan_postbacks_workspace_id_app_id_received_at",
            "workspace_id",
            "app_id",
            "received_at",
        ),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool | None] = mapped_column(nullable=True)
    app_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    kind: Mapped[str] = mapped_column(String(8))  # skan | aak
    version: Mapped[str] = mapped_column(String(10))
    transaction_id: Mapped[str] = mapped_column(String(100))
    store_app_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    ad_network_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source_identifier: Mapped[str | None] = mapped_column(String(20), nullable=True)
    source_app_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    source_domain: Mapped[str | None] = mapped_column(String(255), nullable=True)
    redownload: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    fidelity_type: Mapped[int | None] = mapped_column(Integer, nullable=True)
    did_win: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    sequence_index: Mapped[int] = mapped_column(Integer, default=0)
    fine_value: Mapped[int | None] = mapped_column(Integer, nullable=True)
    coarse_value: Mapped[str | None] = mapped_column(String(10), nullable=True)
    verified: Mapped[bool] = mapped_column(Boolean)
    verification: Mapped[str] = mapped_column(String(200))
    schema_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decoded: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
