from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base, tenant_key
from referkit.db.types import UTCDateTime


class AppDevice(Base):
    """A device an app has seen install, by a keyed hash of its ``idfv`` / ``gaid`` (the raw
    identifier is never stored). A second install from the same hash is a reinstall."""

    __tablename__ = "app_devices"
    __table_args__ = (tenant_key("app_id", "device_hash"),)

    app_id: Mapped[str] = mapped_column(String(40))
    device_hash: Mapped[str] = mapped_column(String(64))
    workspace_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool] = mapped_column()
    first_install_id: Mapped[str] = mapped_column(String(40))
    last_install_id: Mapped[str] = mapped_column(String(40))
    installs: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
