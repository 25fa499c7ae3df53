from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import Base
from referkit.db.types import UTCDateTime


class Code(Base):
    """The installation's one namespace of ``/r/{code}`` codes: which workspace a code is in.

    ``/r/{code}`` names no workspace, so the redirect reads this row first and then the link
    in its workspace; a new code is claimed here in the transaction that creates its link or
    member (the primary key is what refuses a code taken in another workspace). ``kind`` is
    ``member`` for a referral code (shared by the member and its default links) and ``link``
    for a link's own code; ``owner_id`` is the member's or link's id. Rows stay when a link is
    archived or a member deleted, so a code is never handed to someone else; they go with a
    deleted program's members and links and with a workspace's test data, as those rows do.

    A *reference* table on a database sharded by workspace (``referkit.db.tenancy``): every
    node holds a copy, so the lookup by code is local wherever it runs.
    """

    __tablename__ = "codes"

    code_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    livemode: Mapped[bool] = mapped_column()
    kind: Mapped[str] = mapped_column(String(10))  # member | link
    owner_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
