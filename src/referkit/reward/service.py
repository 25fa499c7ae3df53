"""The reward engine: rules fire on referral events, rewards are held, issued, cancelled or
reversed, and every movement is an append-only ledger entry.

Triggers: ``referral_created`` (when a referral is recorded), ``referral_qualified`` (when it
first reaches qualified, with the qualifying purchase if there was one) and ``milestone`` (the
member's nth qualified referral). Each rule fires once per referral (once per member for a
milestone): the reward's ``dedupe_key`` is unique, so replays and races insert nothing twice.
A referral under fraud review (risk above low, program in ``flag`` mode) gets its rewards held
until a person approves it; denying it cancels what is still pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import Conflict, InvalidTransition, NotFound, Unprocessable
from referkit.kit.ids import new_id
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.tenancy import owned
from referkit.kit.text import with_article
from referkit.kit.time import utcnow
from referkit.member.service import MemberService
from referkit.models import Coupon, LedgerEntry, Member, Program, Referral, Reward
from referkit.program.service import ProgramService
from referkit.reward import rules
from referkit.reward.repository import RewardRepository
from referkit.reward.schemas import MilestoneProgress, RewardCreate
from referkit.reward.schemas import Reward as RewardView
from referkit.stats.reward_rollups import RewardRollupBuffer, creation_day, record_rewards
from referkit.webhook.service import WebhookService

FRAUD_HOLD = "fraud_review"
EMPTY_POOL = "coupon_pool_empty"


@dataclass(frozen=True)
class PoolCount:
    """A coupon pool: its codes, the free ones, and the rewards waiting for one."""

    pool: str
    total: int
    available: int
    waiting: int


@dataclass(frozen=True)
class Purchase:
    event_id: str
    amount: int | None
    currency: str | None


def _needs_code(reward: Reward) -> bool:
    return reward.kind == "coupon" and reward.coupon_pool is not None and not reward.coupon_code


def _unit(reward: Reward) -> str:
    return reward.currency or ("points" if reward.kind == "points" else reward.kind)


class RewardService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.rewards = RewardRepository(session)

    # Triggers ---------------------------------------------------------------------------------

    async def on_referral_created(self, program: Program, referral: Referral) -> list[Reward]:
        return await self._fire(program, referral, "referral_created", None)

    async def on_referral_qualified(
        self, program: Program, referral: Referral, purchase: Purchase | None
    ) -> list[Reward]:
        created = await self._fire(program, referral, "referral_qualified", purchase)
        count = await self.rewards.qualified_referrals(referral.workspace_id, referral.member_id)
        for rule in program.reward_rules:
            if rule["trigger"] == "milestone" and rule.get("milestone_count") == count:
                reward = await self._create(program, referral, rule, None)
                if reward is not None:
                    created.append(reward)
        return created

    async def on_referral_status(self, referral: Referral, status: str) -> None:
        """Approval releases fraud holds; denial cancels what was not issued yet."""
        for reward in await self.rewards.for_referral(referral.workspace_id, referral.id):
            if reward.status != "pending":
                continue
            if status == "approved" and reward.held_reason == FRAUD_HOLD:
                reward.held_reason = None
                if _needs_code(reward):
                    # Its pool was empty during the review: try again, or wait for codes.
                    await self._assign_coupon(reward, utcnow())
            elif status == "denied":
                await self._cancel(reward, "referral denied")
        await self.session.flush()

    async def on_referral_removed(self, referral: Referral) -> None:
        """A referral is being deleted: refuse if a reward was paid for it (the money is out;
        deny the referral instead, or reverse through a refund), cancel what is pending."""
        rewards = await self.rewards.for_referral(referral.workspace_id, referral.id)
        paid = [r.id for r in rewards if r.status == "issued"]
        if paid:
            raise Conflict(
                f"Referral {referral.id} has issued rewards ({', '.join(paid)}); it cannot be "
                "deleted.",
                existing_id=paid[0],
            )
        for reward in rewards:
            if reward.status == "pending":
                await self._cancel(reward, "referral deleted")
        await self.session.flush()

    async def on_refund(
        self, workspace_id: str, livemode: bool, refunded_event_id: str
    ) -> list[Reward]:
        """Claw back every reward paid for this purchase."""
        reversed_ = []
        for reward in await self.rewards.for_source_event(
            workspace_id, livemode, refunded_event_id
        ):
            if reward.status in ("pending", "issued"):
                await self._reverse(reward)
                reversed_.append(reward)
        return reversed_

    async def _fire(
        self, program: Program, referral: Referral, trigger: str, purchase: Purchase | None
    ) -> list[Reward]:
        created = []
        for rule in program.reward_rules:
            if rule["trigger"] == trigger:
                reward = await self._create(program, referral, rule, purchase)
                if reward is not None:
                    created.append(reward)
        return created

    async def _create(
        self,
        program: Program,
        referral: Referral,
        rule: dict[str, Any],
        purchase: Purchase | None,
    ) -> Reward | None:
        key = rules.dedupe_key(rule, referral.id, referral.member_id)
        if await self.rewards.by_dedupe_key(program.workspace_id, program.id, key) is not None:
            return None
        cap = rule.get("max_per_member")
        if cap is not None and await self.rewards.count_for_rule(
            referral.workspace_id, rule["id"], referral.member_id, rule["recipient"]
        ) >= int(cap):
            return None
        now = utcnow()
        amount = rules.rule_amount(rule, purchase.amount if purchase else None)
        currency = rule.get("currency")
        if rule.get("percent") is not None and purchase and purchase.currency:
            currency = currency or purchase.currency
        held = FRAUD_HOLD if _under_review(program, referral) else None
        reward = Reward(
            id=new_id("rwd"),
            workspace_id=referral.workspace_id,
            livemode=referral.livemode,
            program_id=program.id,
            member_id=referral.member_id,
            referral_id=referral.id,
            rule_id=rule["id"],
            dedupe_key=key,
            recipient=rule["recipient"],
            kind=rule["kind"],
            amount=amount,
            currency=currency,
            coupon_pool=rule.get("coupon_pool"),
            description=rule.get("description") or "",
            status="pending",
            held_reason=held,
            source_event_id=purchase.event_id if purchase else None,
            eligible_at=rules.eligible_at(rule, now),
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.session.begin_nested():
                await self.rewards.add(reward)
        except IntegrityError:
            return None  # a concurrent trigger created it first
        if reward.kind == "coupon" and reward.coupon_pool:
            await self._assign_coupon(reward, now)
        await self._entry(reward, "created", pending=reward.amount or 0, issued=0, before=None)
        await self._emit(reward, "reward.created")
        return reward

    async def _assign_coupon(self, reward: Reward, now: datetime) -> bool:
        assert reward.coupon_pool is not None
        code = await self.rewards.take_coupon(
            reward.workspace_id, reward.program_id, reward.coupon_pool, reward.id, now
        )
        if code is None:
            reward.held_reason = reward.held_reason or EMPTY_POOL
            return False
        reward.coupon_code = code
        if reward.held_reason == EMPTY_POOL:
            reward.held_reason = None
        await self.session.flush()
        return True

    # Requests ---------------------------------------------------------------------------------

    async def get(self, principal: Principal, reward_id: str) -> Reward:
        return await owned(principal, reward_id, prefix="rwd", noun="reward", load=self.rewards.get)

    async def search(
        self, principal: Principal, params: PageParams, **filters: Any
    ) -> tuple[list[Reward], PageMeta]:
        return await self.rewards.page(
            principal.workspace_id, principal.livemode, params, **filters
        )

    async def create_manual(self, principal: Principal, body: RewardCreate) -> Reward:
        try:
            member = await MemberService(self.session).get(principal, body.member_id)
        except NotFound:
            raise Unprocessable(
                f"No member {body.member_id} in this workspace.",
                errors=[
                    {
                        "field": "member_id",
                        "in": "body",
                        "message": "unknown member",
                        "type": "value_error",
                    }
                ],
            ) from None
        if body.referral_id is not None:
            referral = await self._referral(principal, body.referral_id)
            if referral.member_id != member.id:
                raise Unprocessable("The referral belongs to another member.")
        now = utcnow()
        reward = Reward(
            id=new_id("rwd"),
            workspace_id=principal.workspace_id,
            livemode=principal.livemode,
            program_id=member.program_id,
            member_id=member.id,
            referral_id=body.referral_id,
            rule_id=None,
            dedupe_key="",
            recipient=body.recipient.value,
            kind=body.kind.value,
            amount=body.amount,
            currency=body.currency,
            coupon_code=body.coupon_code,
            description=body.description,
            status="pending",
            eligible_at=rules.eligible_at({"hold_days": body.hold_days}, now),
            created_at=now,
            updated_at=now,
        )
        reward.dedupe_key = f"manual:{reward.id}"
        await self.rewards.add(reward)
        await self._entry(reward, "created", pending=reward.amount or 0, issued=0, before=None)
        await self._emit(reward, "reward.created")
        return reward

    async def _referral(self, principal: Principal, referral_id: str) -> Referral:
        from referkit.referral.service import ReferralService  # referral imports this module

        try:
            return await ReferralService(self.session).get(principal, referral_id)
        except NotFound:
            raise Unprocessable(f"No referral {referral_id} in this workspace.") from None

    async def issue(
        self, principal: Principal, reward_id: str, *, override_hold: bool, note: str | None
    ) -> Reward:
        reward = await self.get(principal, reward_id)
        if reward.status != "pending":
            raise InvalidTransition(
                f"{with_article(reward.status, capital=True)} reward cannot be issued.",
                current_status=reward.status,
                requested_status="issued",
                allowed=[],
            )
        now = utcnow()
        held = reward.held_reason if reward.held_reason != EMPTY_POOL else None
        if not override_hold and (held or reward.eligible_at > now):
            why = held or f"on hold until {reward.eligible_at.isoformat()}"
            raise InvalidTransition(
                f"The reward is held ({why}); pass override_hold=true to issue it now.",
                current_status=reward.status,
                requested_status="issued",
                allowed=["issued (override_hold)", "cancelled"],
            )
        # A coupon reward is never issued without its code (also when a hold is overridden).
        if _needs_code(reward) and not await self._assign_coupon(reward, now):
            raise InvalidTransition(
                f"The coupon pool {reward.coupon_pool!r} is empty; upload codes, then issue.",
                current_status=reward.status,
                requested_status="issued",
                allowed=["cancelled"],
            )
        await self._issue(reward, now, note)
        return reward

    async def _issue(self, reward: Reward, now: datetime, note: str | None) -> None:
        reward.status = "issued"
        reward.issued_at = reward.updated_at = now
        reward.held_reason = None
        if note is not None:
            reward.note = note
        value = reward.amount or 0
        await self._entry(reward, "issued", pending=-value, issued=value, before="pending")
        await self._emit(reward, "reward.issued")

    async def cancel(self, principal: Principal, reward_id: str, note: str | None) -> Reward:
        reward = await self.get(principal, reward_id)
        if reward.status != "pending":
            raise InvalidTransition(
                f"{with_article(reward.status, capital=True)} reward cannot be cancelled"
                + (" (a refund reverses issued rewards)." if reward.status == "issued" else "."),
                current_status=reward.status,
                requested_status="cancelled",
                allowed=[],
            )
        await self._cancel(reward, note)
        return reward

    async def _cancel(self, reward: Reward, note: str | None) -> None:
        reward.status = "cancelled"
        reward.cancelled_at = reward.updated_at = utcnow()
        reward.note = note if note is not None else reward.note
        await self._entry(
            reward, "cancelled", pending=-(reward.amount or 0), issued=0, before="pending"
        )
        await self._emit(reward, "reward.cancelled")

    async def _reverse(self, reward: Reward) -> None:
        value = reward.amount or 0
        before = reward.status
        pending, issued = (-value, 0) if before == "pending" else (0, -value)
        reward.status = "reversed"
        reward.reversed_at = reward.updated_at = utcnow()
        await self._entry(reward, "reversed", pending=pending, issued=issued, before=before)
        await self._emit(reward, "reward.reversed")

    async def any_due(self) -> bool:
        return await self.rewards.any_due(utcnow())

    async def issue_due(self, limit: int = 100) -> int:
        """Worker job: issue pending rewards whose hold ended, where the program auto-issues."""
        now = utcnow()
        issued = 0
        programs: dict[str, Program | None] = {}
        for reward in await self.rewards.due(now, limit):
            if reward.program_id not in programs:
                programs[reward.program_id] = await self.session.get(
                    Program, (reward.workspace_id, reward.program_id)
                )
            program = programs[reward.program_id]
            if program is None or not program.auto_issue:
                continue
            if reward.kind == "coupon" and reward.coupon_code is None:
                continue
            await self._issue(reward, now, None)
            issued += 1
        return issued

    # Coupons and balances ---------------------------------------------------------------------

    async def upload_coupons(
        self, principal: Principal, program_id: str, pool: str, codes: list[str]
    ) -> tuple[int, int, int]:
        program = await ProgramService(self.session).get(principal, program_id)
        unique: list[str] = list(dict.fromkeys(codes))
        existing = await self.rewards.existing_codes(program.workspace_id, program.id, pool, unique)
        fresh = [code for code in unique if code not in existing]
        now = utcnow()
        await self.rewards.add_coupons(
            [
                Coupon(
                    id=new_id("cpn"),
                    workspace_id=principal.workspace_id,
                    livemode=principal.livemode,
                    program_id=program.id,
                    pool=pool,
                    code=code,
                    created_at=now,
                )
                for code in fresh
            ]
        )
        available = next(
            (
                free
                for name, _, free in await self.rewards.pools(program.workspace_id, program.id)
                if name == pool
            ),
            0,
        )
        return len(fresh), len(codes) - len(fresh), available

    async def pools(self, principal: Principal, program_id: str) -> list[PoolCount]:
        """The program's pools with codes, and those that rewards are waiting on."""
        program = await ProgramService(self.session).get(principal, program_id)
        codes = {
            name: (total, free)
            for name, total, free in await self.rewards.pools(program.workspace_id, program.id)
        }
        waiting = dict(
            await self.rewards.held_by_pool(program.workspace_id, program.id, EMPTY_POOL)
        )
        return [
            PoolCount(name, *codes.get(name, (0, 0)), waiting=waiting.get(name, 0))
            for name in sorted(codes.keys() | waiting.keys())
        ]

    async def waiting_for_codes(self, workspace_id: str, program_id: str) -> list[PoolCount]:
        """Pools that pending rewards wait on (``coupon_pool_empty``), with their free codes.

        ``program_id`` must already be the caller's (checked by the caller's service).
        """
        waiting = await self.rewards.held_by_pool(workspace_id, program_id, EMPTY_POOL)
        if not waiting:
            return []
        codes = {
            name: (total, free)
            for name, total, free in await self.rewards.pools(workspace_id, program_id)
        }
        return [PoolCount(name, *codes.get(name, (0, 0)), waiting=count) for name, count in waiting]

    async def milestones(self, program: Program, member_id: str) -> list[MilestoneProgress]:
        """The referrer's progress towards each of the program's referrer milestone rules.

        Counts what ``on_referral_qualified`` counts (referrals that ever qualified), so a
        milestone shows as reached exactly when its reward was due. ``program`` and
        ``member_id`` must already be the caller's (checked by the caller's service).
        """
        targets = [
            rule
            for rule in program.reward_rules
            if rule["trigger"] == "milestone" and rule["recipient"] == "referrer"
        ]
        if not targets:
            return []
        count = await self.rewards.qualified_referrals(program.workspace_id, member_id)
        return [
            MilestoneProgress(
                rule_id=rule["id"],
                target=int(rule["milestone_count"]),
                count=min(count, int(rule["milestone_count"])),
                reached=count >= int(rule["milestone_count"]),
                kind=rule["kind"],
                amount=rule.get("amount"),
                currency=rule.get("currency"),
                description=rule.get("description") or "",
            )
            for rule in sorted(targets, key=lambda rule: int(rule["milestone_count"]))
        ]

    async def balances(self, principal: Principal, member_id: str) -> list[tuple[str, int, int]]:
        member = await MemberService(self.session).get(principal, member_id)
        return await self.member_balances(member)

    async def member_balances(self, member: Member) -> list[tuple[str, int, int]]:
        """(unit, pending, issued) per unit of a member row the caller already checked."""
        return await self.rewards.balances(member.workspace_id, member.id)

    async def ledger(
        self, principal: Principal, member_id: str, params: PageParams
    ) -> tuple[list[LedgerEntry], PageMeta]:
        member = await MemberService(self.session).get(principal, member_id)
        return await self.rewards.ledger_page(member.workspace_id, member.id, params)

    # Helpers ----------------------------------------------------------------------------------

    async def _entry(
        self, reward: Reward, kind: str, *, pending: int, issued: int, before: str | None
    ) -> None:
        """The ledger entry of a change to ``reward`` (now in its new status, ``before`` the
        old one) and, in the same transaction, the move in its program's reward rollups."""
        await self.rewards.add_entry(
            LedgerEntry(
                id=new_id("led"),
                workspace_id=reward.workspace_id,
                livemode=reward.livemode,
                member_id=reward.member_id,
                reward_id=reward.id,
                recipient=reward.recipient,
                kind=kind,
                unit=_unit(reward),
                currency=reward.currency,
                pending_delta=pending,
                issued_delta=issued,
                created_at=utcnow(),
            )
        )
        counts = RewardRollupBuffer()
        counts.move(
            workspace_id=reward.workspace_id,
            livemode=reward.livemode,
            program_id=reward.program_id,
            day=creation_day(reward.created_at),
            unit=_unit(reward),
            amount=reward.amount or 0,
            before=before,
            after=reward.status,
        )
        await record_rewards(self.session, counts)

    async def _emit(self, reward: Reward, event_type: str) -> None:
        data = RewardView.model_validate(reward).model_dump(mode="json")
        await WebhookService(self.session).emit(
            reward.workspace_id, reward.livemode, event_type, data
        )


def _under_review(program: Program, referral: Referral) -> bool:
    return program.fraud.get("mode", "flag") == "flag" and referral.fraud.get("risk") in (
        "medium",
        "high",
    )
