from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from referkit.db.base import COUNTER_TABLE_STORAGE, Base


class RewardRollup(Base):
    """Per-day reward counters of one program and unit (a currency, ``points``, or the kind of
    a reward without an amount, such as ``coupon``).

    A reward counts on the UTC day it was created, under its current status: creating one adds
    to ``pending``, issuing moves it to ``issued``, cancelling to ``cancelled``, reversing to
    ``reversed`` — always on its creation day, so a day's row says what became of the rewards
    created that day. Rows are upserted in the transaction of the ledger entry that records the
    change; the dashboard's rewards chart reads these rows, never the rewards.
    """

    __tablename__ = "reward_rollups"
    __table_args__ = {"postgresql_with": COUNTER_TABLE_STORAGE}

    workspace_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    program_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    unit: Mapped[str] = mapped_column(String(20), primary_key=True)
    livemode: Mapped[bool] = mapped_column()
    pending_count: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_count: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    cancelled_count: Mapped[int] = mapped_column(BigInteger, default=0)
    cancelled_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    reversed_count: Mapped[int] = mapped_column(BigInteger, default=0)
    reversed_amount: Mapped[int] = mapped_column(BigInteger, default=0)
