from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, tenant_id_column, tenant_key
from referkit.db.types import JSONType, UTCDateTime


class AppClick(Base):
    """What a click on an app link adds to its ``clicks`` row (same ``id``).

    Written by the click batcher in the click's transaction, only for links that belong to an
    app, so the plain web redirect writes nothing more. ``network`` was decided at the click
    (ad click id > ``utm_source`` > the link's network). ``ip_hash`` is the IP hashed with the
    day's rotating salt (as ``visitor_hash``); probabilistic matching hashes the install's IP
    with each day's salt of its window. ``install_id`` is the install that claimed the click:
    one at most (set by a conditional update).
    """

    __tablename__ = "app_clicks"
    __table_args__ = (
        tenant_key("id"),
        Index("ix_app_clicks_app_id_ip_hash_created_at", "app_id", "ip_hash", "created_at"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column()
    app_id: Mapped[str] = mapped_column(String(40))
    link_id: Mapped[str] = mapped_column(String(40))
    platform: Mapped[str] = mapped_column(String(16))
    is_bot: Mapped[bool] = mapped_column(Boolean)
    network: Mapped[str | None] = mapped_column(String(100), nullable=True)
    campaign: Mapped[str | None] = mapped_column(String(200), nullable=True)
    adset: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ad: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ad_click_param: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ad_click_id: Mapped[str | None] = mapped_column(String(512), nullable=True)
    utm: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    ip_hash: Mapped[str] = mapped_column(String(64))
    os: Mapped[str | None] = mapped_column(String(20), nullable=True)
    os_version: Mapped[str | None] = mapped_column(String(20), nullable=True)
    language: Mapped[str | None] = mapped_column(String(20), nullable=True)
    install_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
