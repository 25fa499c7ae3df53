from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, Field, model_validator

from referkit.kit.schemas import Currency, RequestModel, ResponseModel
from referkit.program.schemas import Recipient, RewardKind


class RewardStatus(StrEnum):
    pending = "pending"
    issued = "issued"
    cancelled = "cancelled"
    reversed = "reversed"


class Reward(ResponseModel):
    id: str = Field(examples=["rwd_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    program_id: str
    member_id: str = Field(description="The referrer the reward belongs to (or was earned by).")
    referral_id: str | None
    rule_id: str | None = Field(description="The rule that created it; null for manual rewards.")
    recipient: Recipient
    kind: RewardKind
    amount: int | None = Field(description="Minor units (points for kind=points).", examples=[2000])
    currency: str | None = Field(examples=["USD"])
    coupon_code: str | None
    description: str
    status: RewardStatus
    held_reason: str | None = Field(
        description="Why a pending reward is not issued yet (fraud review, empty coupon pool)."
    )
    eligible_at: datetime = Field(description="When the hold ends.")
    issued_at: datetime | None
    cancelled_at: datetime | None
    reversed_at: datetime | None
    note: str | None
    livemode: bool
    created_at: datetime


class RewardCreate(RequestModel):
    """A manual reward (a goodwill credit, a contest prize)."""

    member_id: str = Field(max_length=40)
    referral_id: str | None = Field(default=None, max_length=40)
    recipient: Recipient = Recipient.referrer
    kind: RewardKind
    amount: int | None = Field(default=None, ge=1, le=10**12)
    currency: Currency | None = None
    coupon_code: str | None = Field(default=None, min_length=1, max_length=200)
    description: str = Field(default="", max_length=500)
    hold_days: int = Field(default=0, ge=0, le=365)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        money = self.kind in (RewardKind.cash, RewardKind.credit)
        if money and (self.amount is None or self.currency is None):
            raise ValueError(f"{self.kind.value} rewards need an amount and a currency")
        if self.kind is RewardKind.points and (self.amount is None or self.currency is not None):
            raise ValueError("points rewards need an amount and no currency")
        if self.kind is RewardKind.coupon and not self.coupon_code:
            raise ValueError("coupon rewards need a coupon_code")
        if self.kind is RewardKind.custom and not self.description:
            raise ValueError("custom rewards need a description")
        return self


class RewardIssue(RequestModel):
    override_hold: bool = Field(
        default=False, description="Issue before eligible_at, or despite a fraud review hold."
    )
    note: str | None = Field(default=None, max_length=2000)


class RewardCancel(RequestModel):
    note: str | None = Field(default=None, max_length=2000)


def _codes(values: list[str]) -> list[str]:
    cleaned = [v.strip() for v in values if v.strip()]
    if not cleaned:
        raise ValueError("at least one non-empty code")
    if any(len(v) > 200 for v in cleaned):
        raise ValueError("codes are at most 200 characters")
    return cleaned


class CouponUpload(RequestModel):
    codes: Annotated[list[str], Field(min_length=1, max_length=1000), AfterValidator(_codes)]


class CouponUploadResult(BaseModel):
    pool: str
    added: int
    duplicates: int = Field(description="Codes already in the pool (or repeated), skipped.")
    available: int = Field(description="Free codes in the pool after the upload.")


class CouponPool(BaseModel):
    pool: str = Field(examples=["WELCOME"])
    total: int = Field(description="Codes ever uploaded to the pool.", examples=[100])
    available: int = Field(description="Codes not given to a reward yet.", examples=[0])
    waiting: int = Field(
        default=0,
        description="Pending rewards held because the pool was empty (`held_reason: "
        "coupon_pool_empty`); issue them once codes are available.",
        examples=[3],
    )


class Balance(BaseModel):
    unit: str = Field(description="ISO 4217 currency, or `points`.", examples=["USD"])
    pending: int = Field(description="Earned, not yet issued (minor units).")
    issued: int = Field(description="Issued (paid) so far, net of reversals.")


class LedgerEntry(ResponseModel):
    id: str
    reward_id: str
    kind: str = Field(examples=["created", "issued", "cancelled", "reversed"])
    unit: str
    pending_delta: int
    issued_delta: int
    created_at: datetime


class MilestoneProgress(BaseModel):
    """How far a referrer is towards a milestone rule (its nth qualified referral)."""

    rule_id: str
    target: int = Field(description="Qualified referrals the milestone needs.", examples=[5])
    count: int = Field(description="Qualified referrals so far, capped at the target.")
    reached: bool
    kind: RewardKind
    amount: int | None = Field(description="Minor units (points for kind=points).")
    currency: str | None
    description: str
