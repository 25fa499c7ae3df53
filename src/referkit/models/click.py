from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, tenant_id_column, tenant_key
from referkit.db.types import UTCDateTime


class Click(Base):
    """One hit on ``/r/{code}``, written by the click batcher before the redirect is answered.

    Orphans (unknown, expired or archived codes) keep the requested ``code``; unknown codes have
    no workspace. ``visitor_id`` is the first-party cookie (random, used for cookie attribution);
    ``visitor_hash`` is a salted hash of IP + user agent (salt rotated daily); raw IPs are not
    stored. ``is_unique`` marks the click that counted as reach (one visitor per link per hour).

    An append-only log without foreign keys: its tenant and link ids come from the link cache,
    never from the request, and a parent check per row is a lookup (on PostgreSQL a trigger)
    on the hottest write path. Links are archived; those a deleted program takes with it leave
    their clicks here, and attribution no longer counts them.
    """

    __tablename__ = "clicks"
    __table_args__ = (
        tenant_key("id"),
        Index("ix_clicks_visitor_id_created_at", "visitor_id", "created_at"),
    )

    id: Mapped[str] = tenant_id_column()
    # "" for an orphan of an unknown code: a key column (on PostgreSQL with ``created_at``, the
    # partition column, see db/partitions.py), so never NULL.
    workspace_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool | None] = mapped_column(nullable=True)
    link_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    program_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    member_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    code: Mapped[str] = mapped_column(String(64))
    visitor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    visitor_hash: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    is_bot: Mapped[bool] = mapped_column(Boolean)
    is_orphan: Mapped[bool] = mapped_column(Boolean)
    is_unique: Mapped[bool] = mapped_column(Boolean)
    user_agent: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    referer: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    destination_url: Mapped[str | None] = mapped_column(String(4096), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # What breakdowns group the click by (``link/dimensions.py``), decided at the redirect and
    # kept for the signups and purchases later attributed to the click; ``""`` is unknown.
    # NULL on bot and orphan clicks, which no breakdown counts.
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    device: Mapped[str | None] = mapped_column(String(10), nullable=True)
    os: Mapped[str | None] = mapped_column(String(100), nullable=True)
    browser: Mapped[str | None] = mapped_column(String(100), nullable=True)
    referrer_host: Mapped[str | None] = mapped_column(String(100), nullable=True)
    utm_source: Mapped[str | None] = mapped_column(String(100), nullable=True)
    utm_campaign: Mapped[str | None] = mapped_column(String(100), nullable=True)
