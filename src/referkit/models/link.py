from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import (
    Base,
    TimestampMixin,
    tenant_fk,
    tenant_id_column,
    tenant_key,
)
from referkit.db.types import JSONType, UTCDateTime


class Link(TimestampMixin, Base):
    """A tracking link: ``/r/{code}`` → a stored destination.

    ``code_key`` (lower-cased code) is unique across the installation, shared with member
    referral codes: every member owns a default link whose code is its referral code. The
    ``codes`` reference table (``Code``) holds that namespace and says which workspace a code
    is in; here a code is unique per workspace (what a table sharded by workspace can hold).
    Deleting a
    link archives it (``archived_at``) and keeps the row, so a code is never handed to someone
    else. ``destination_url`` null means "the program's landing URL" (member default links).
    """

    __tablename__ = "links"
    __table_args__ = (
        tenant_key("id"),
        tenant_fk("program_id", "programs", name="fk_links_program_id_programs"),
        tenant_fk("member_id", "members", name="fk_links_member_id_members"),
        UniqueConstraint("workspace_id", "code_key"),
        Index("ix_links_workspace_id_livemode_id", "workspace_id", "livemode", "id"),
    )

    id: Mapped[str] = tenant_id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    livemode: Mapped[bool] = mapped_column()
    code: Mapped[str] = mapped_column(String(40))
    code_key: Mapped[str] = mapped_column(String(40))
    program_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    member_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    app_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    destination_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    ios_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    android_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    utm: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # App links (``app_id`` set): the deferred deep link, the ad taxonomy and the social preview.
    deep_link_path: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    deep_link_params: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    network: Mapped[str | None] = mapped_column(String(100), nullable=True)
    campaign: Mapped[str | None] = mapped_column(String(200), nullable=True)
    adset: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ad: Mapped[str | None] = mapped_column(String(200), nullable=True)
    og: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
