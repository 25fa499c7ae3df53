from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.locking import skip_locked
from referkit.db.lookup import owned_by_id
from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.models import Coupon, LedgerEntry, Program, Referral, Reward

_BALANCES = (
    select(
        LedgerEntry.unit,
        func.coalesce(func.sum(LedgerEntry.pending_delta), 0),
        func.coalesce(func.sum(LedgerEntry.issued_delta), 0),
    )
    .where(
        LedgerEntry.workspace_id == bindparam("workspace_id"),
        LedgerEntry.member_id == bindparam("member_id"),
        LedgerEntry.recipient == "referrer",
    )
    .group_by(LedgerEntry.unit)
    .order_by(LedgerEntry.unit)
)
"""Built once: ``RewardRepository.balances`` runs on every member's stats and dashboard."""


class RewardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: str, livemode: bool, reward_id: str) -> Reward | None:
        return await owned_by_id(self.session, Reward, workspace_id, livemode, reward_id)

    async def by_dedupe_key(self, workspace_id: str, program_id: str, key: str) -> Reward | None:
        result: Reward | None = await self.session.scalar(
            select(Reward).where(
                Reward.workspace_id == workspace_id,
                Reward.program_id == program_id,
                Reward.dedupe_key == key,
            )
        )
        return result

    async def count_for_rule(
        self, workspace_id: str, rule_id: str, member_id: str, recipient: str
    ) -> int:
        """Rewards a rule has given for this member's referrals, cancelled/reversed excluded."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(Reward)
            .where(
                Reward.workspace_id == workspace_id,
                Reward.rule_id == rule_id,
                Reward.member_id == member_id,
                Reward.recipient == recipient,
                Reward.status.in_(("pending", "issued")),
            )
        )
        return int(count or 0)

    async def qualified_referrals(self, workspace_id: str, member_id: str) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(Referral)
            .where(
                Referral.workspace_id == workspace_id,
                Referral.member_id == member_id,
                Referral.qualified_at.is_not(None),
            )
        )
        return int(count or 0)

    async def for_referral(self, workspace_id: str, referral_id: str) -> list[Reward]:
        rows = await self.session.scalars(
            select(Reward).where(
                Reward.workspace_id == workspace_id, Reward.referral_id == referral_id
            )
        )
        return list(rows.all())

    async def for_source_event(
        self, workspace_id: str, livemode: bool, event_id: str
    ) -> list[Reward]:
        rows = await self.session.scalars(
            select(Reward).where(
                Reward.workspace_id == workspace_id,
                Reward.livemode == livemode,
                Reward.source_event_id == event_id,
            )
        )
        return list(rows.all())

    async def any_due(self, now: datetime) -> bool:
        found = await self.session.scalar(
            select(Reward.id)
            .join(Program, Program.id == Reward.program_id)
            .where(
                Program.auto_issue.is_(True),
                Reward.status == "pending",
                Reward.held_reason.is_(None),
                Reward.eligible_at <= now,
            )
            .limit(1)
        )
        return found is not None

    async def due(self, now: datetime, limit: int) -> list[Reward]:
        """Pending, unheld rewards whose hold has ended (for automatic issuing)."""
        stmt = (
            select(Reward)
            .join(Program, Program.id == Reward.program_id)
            .where(
                Program.auto_issue.is_(True),
                Reward.status == "pending",
                Reward.held_reason.is_(None),
                Reward.eligible_at <= now,
            )
            .order_by(Reward.eligible_at)
            .limit(limit)
        )
        rows = await self.session.scalars(skip_locked(self.session, stmt, Reward))
        return list(rows.all())

    async def page(
        self, workspace_id: str, livemode: bool, params: PageParams, **filters: Any
    ) -> tuple[list[Reward], PageMeta]:
        # A member's or a referral's rewards: read through their own index and sort those few.
        # Left as a bare column, the tenancy filter lets SQLite (which keeps no statistics)
        # walk the whole workspace's (workspace_id, livemode, id) index newest first instead.
        narrow = any(filters.get(name) is not None for name in ("member_id", "referral_id"))
        tenancy = Reward.workspace_id + "" if narrow else Reward.workspace_id
        stmt = select(Reward).where(tenancy == workspace_id, Reward.livemode == livemode)
        for name, value in filters.items():
            if value is not None:
                stmt = stmt.where(getattr(Reward, name) == value)
        return await paginate(self.session, stmt, Reward.id, params)

    async def add(self, reward: Reward) -> None:
        self.session.add(reward)
        await self.session.flush()

    async def add_entry(self, entry: LedgerEntry) -> None:
        self.session.add(entry)
        await self.session.flush()

    async def balances(self, workspace_id: str, member_id: str) -> list[tuple[str, int, int]]:
        """(unit, pending, issued) sums of the member's referrer ledger, per unit."""
        rows = await self.session.execute(
            _BALANCES, {"workspace_id": workspace_id, "member_id": member_id}
        )
        return [(str(unit), int(pending), int(issued)) for unit, pending, issued in rows.all()]

    async def ledger_page(
        self, workspace_id: str, member_id: str, params: PageParams
    ) -> tuple[list[LedgerEntry], PageMeta]:
        stmt = select(LedgerEntry).where(
            LedgerEntry.workspace_id == workspace_id,
            LedgerEntry.member_id == member_id,
            LedgerEntry.recipient == "referrer",
        )
        return await paginate(self.session, stmt, LedgerEntry.id, params)

    # Coupons ----------------------------------------------------------------------------------

    async def take_coupon(
        self, workspace_id: str, program_id: str, pool: str, reward_id: str, now: datetime
    ) -> str | None:
        """Atomically give the oldest free code of the pool to the reward."""
        stmt = (
            select(Coupon.id, Coupon.code)
            .where(
                Coupon.workspace_id == workspace_id,
                Coupon.program_id == program_id,
                Coupon.pool == pool,
                Coupon.reward_id.is_(None),
            )
            .order_by(Coupon.id)
            .limit(1)
        )
        for _ in range(5):
            row = (await self.session.execute(skip_locked(self.session, stmt))).first()
            if row is None:
                return None
            taken = await self.session.execute(
                update(Coupon)
                .where(
                    Coupon.workspace_id == workspace_id,
                    Coupon.id == row.id,
                    Coupon.reward_id.is_(None),
                )
                .values(reward_id=reward_id, taken_at=now)
            )
            if getattr(taken, "rowcount", 0) == 1:
                return str(row.code)
        return None

    async def existing_codes(
        self, workspace_id: str, program_id: str, pool: str, codes: list[str]
    ) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(codes), 500):
            chunk = codes[start : start + 500]
            rows = await self.session.scalars(
                select(Coupon.code).where(
                    Coupon.workspace_id == workspace_id,
                    Coupon.program_id == program_id,
                    Coupon.pool == pool,
                    Coupon.code.in_(chunk),
                )
            )
            found.update(rows.all())
        return found

    async def add_coupons(self, coupons: list[Coupon]) -> None:
        self.session.add_all(coupons)
        await self.session.flush()

    async def pools(self, workspace_id: str, program_id: str) -> list[tuple[str, int, int]]:
        """(pool, total codes, free codes)."""
        rows = await self.session.execute(
            select(
                Coupon.pool,
                func.count(),
                func.count().filter(Coupon.reward_id.is_(None)),
            )
            .where(Coupon.workspace_id == workspace_id, Coupon.program_id == program_id)
            .group_by(Coupon.pool)
            .order_by(Coupon.pool)
        )
        return [(str(pool), int(total), int(free)) for pool, total, free in rows.all()]

    async def held_by_pool(
        self, workspace_id: str, program_id: str, held_reason: str
    ) -> list[tuple[str, int]]:
        """(pool, pending rewards held for ``held_reason``) per coupon pool, by pool name.

        Bounded by ``ix_rewards_held`` (held rewards only): reads only the held rewards.
        """
        rows = await self.session.execute(
            select(Reward.coupon_pool, func.count())
            .where(
                Reward.workspace_id == workspace_id,
                Reward.program_id == program_id,
                Reward.held_reason == held_reason,
                Reward.status == "pending",
                Reward.coupon_pool.is_not(None),
            )
            .group_by(Reward.coupon_pool)
            .order_by(Reward.coupon_pool)
        )
        return [(str(pool), int(count)) for pool, count in rows.all()]
