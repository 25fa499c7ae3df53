"""Reward rollup deltas: per program, creation day and unit, how many rewards (and how much)
are pending, issued, cancelled or reversed.

The reward service adds a delta with every ledger entry it writes (a reward created, issued,
cancelled or reversed), so the counters change in the same transaction as the reward. Inside an
event batch the writer puts one ``RewardRollupBuffer`` in ``session.info``
(``REWARD_BUFFER_KEY``) and upserts it once, after the other rollups, in key order; outside a
batch ``record_rewards`` upserts at once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.upsert import CounterRows
from referkit.models import RewardRollup

STATUSES = ("pending", "issued", "cancelled", "reversed")
REWARD_COUNTERS = [f"{status}_{what}" for status in STATUSES for what in ("count", "amount")]
REWARD_KEY = ["workspace_id", "program_id", "day", "unit"]
REWARD_BUFFER_KEY = "referkit.reward_rollup_buffer"
_TABLE = cast(Table, RewardRollup.__table__)


def creation_day(created_at: datetime) -> date:
    """The UTC day a reward counts on."""
    if created_at.tzinfo is not None:
        created_at = created_at.astimezone(UTC)
    return created_at.date()


class RewardRollupBuffer(CounterRows):
    TABLE = _TABLE
    KEY = REWARD_KEY
    COUNTERS = REWARD_COUNTERS

    def move(
        self,
        *,
        workspace_id: str,
        livemode: bool,
        program_id: str,
        day: date,
        unit: str,
        amount: int,
        before: str | None,
        after: str,
    ) -> None:
        """One reward of ``amount`` went from status ``before`` (None: it is new) to ``after``."""
        key = (workspace_id, program_id, day.isoformat(), unit[:20])
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = {
                "workspace_id": workspace_id,
                "program_id": program_id,
                "day": key[2],
                "unit": key[3],
                "livemode": livemode,
                **dict.fromkeys(REWARD_COUNTERS, 0),
            }
        if before is not None:
            row[f"{before}_count"] -= 1
            row[f"{before}_amount"] -= amount
        row[f"{after}_count"] += 1
        row[f"{after}_amount"] += amount


async def record_rewards(session: AsyncSession, buffer: RewardRollupBuffer) -> None:
    """Write ``buffer`` now, or hand it to the batch this session belongs to."""
    batch: RewardRollupBuffer | None = session.info.get(REWARD_BUFFER_KEY)
    if batch is not None:
        batch.merge(buffer)
        return
    await buffer.write(session)
