from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, status

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.db.session import APIRouter, replica_reads
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.openapi import problems
from referkit.reward.schemas import (
    Balance,
    CouponPool,
    CouponUpload,
    CouponUploadResult,
    LedgerEntry,
    Reward,
    RewardCancel,
    RewardCreate,
    RewardIssue,
    RewardStatus,
)
from referkit.reward.service import RewardService

router = APIRouter(tags=["Rewards"])

PoolName = Annotated[
    str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]


@router.get("/rewards", summary="List rewards", responses=problems(422))
@replica_reads
async def list_rewards(
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    program_id: Annotated[str | None, Query(max_length=40)] = None,
    member_id: Annotated[str | None, Query(max_length=40)] = None,
    referral_id: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[RewardStatus | None, Query()] = None,
) -> Page[Reward]:
    rewards, meta = await RewardService(session).search(
        principal,
        page,
        program_id=program_id,
        member_id=member_id,
        referral_id=referral_id,
        status=status.value if status else None,
    )
    return Page[Reward](data=[Reward.model_validate(r) for r in rewards], meta=meta)


@router.post(
    "/rewards",
    summary="Create a reward by hand",
    status_code=status.HTTP_201_CREATED,
    responses=problems(422),
)
async def create_reward(body: RewardCreate, principal: WritePrincipal, session: Session) -> Reward:
    return Reward.model_validate(await RewardService(session).create_manual(principal, body))


@router.get("/rewards/{reward_id}", summary="Get a reward", responses=problems(404))
async def get_reward(reward_id: str, principal: ReadPrincipal, session: Session) -> Reward:
    return Reward.model_validate(await RewardService(session).get(principal, reward_id))


@router.post(
    "/rewards/{reward_id}/issue",
    summary="Issue a pending reward (override_hold to issue before its hold ends)",
    responses=problems(404, 409, 422),
)
async def issue_reward(
    reward_id: str, principal: WritePrincipal, session: Session, body: RewardIssue | None = None
) -> Reward:
    body = body or RewardIssue()
    reward = await RewardService(session).issue(
        principal, reward_id, override_hold=body.override_hold, note=body.note
    )
    return Reward.model_validate(reward)


@router.post(
    "/rewards/{reward_id}/cancel",
    summary="Cancel a pending reward",
    responses=problems(404, 409, 422),
)
async def cancel_reward(
    reward_id: str, principal: WritePrincipal, session: Session, body: RewardCancel | None = None
) -> Reward:
    reward = await RewardService(session).cancel(
        principal, reward_id, (body or RewardCancel()).note
    )
    return Reward.model_validate(reward)


@router.get(
    "/programs/{program_id}/coupon-pools",
    summary="A program's coupon pools with their free codes and the rewards waiting for one",
    responses=problems(404),
)
async def list_coupon_pools(
    program_id: str, principal: ReadPrincipal, session: Session
) -> dict[str, list[CouponPool]]:
    pools = await RewardService(session).pools(principal, program_id)
    return {
        "data": [
            CouponPool(
                pool=pool.pool, total=pool.total, available=pool.available, waiting=pool.waiting
            )
            for pool in pools
        ]
    }


@router.post(
    "/programs/{program_id}/coupon-pools/{pool}/codes",
    summary="Add coupon codes to a pool (duplicates are skipped)",
    responses=problems(404, 422),
)
async def upload_coupons(
    program_id: str,
    pool: PoolName,
    body: CouponUpload,
    principal: WritePrincipal,
    session: Session,
) -> CouponUploadResult:
    added, duplicates, available = await RewardService(session).upload_coupons(
        principal, program_id, pool, body.codes
    )
    return CouponUploadResult(pool=pool, added=added, duplicates=duplicates, available=available)


@router.get(
    "/members/{member_id}/balances",
    summary="A referrer's reward balances per currency: pending and issued",
    responses=problems(404),
)
async def member_balances(
    member_id: str, principal: ReadPrincipal, session: Session
) -> dict[str, list[Balance]]:
    rows = await RewardService(session).balances(principal, member_id)
    return {"data": [Balance(unit=u, pending=p, issued=i) for u, p, i in rows]}


@router.get(
    "/members/{member_id}/ledger",
    summary="A referrer's reward ledger (append-only), newest first",
    responses=problems(404, 422),
)
async def member_ledger(
    member_id: str,
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[LedgerEntry]:
    entries, meta = await RewardService(session).ledger(principal, member_id, page)
    return Page[LedgerEntry](data=[LedgerEntry.model_validate(e) for e in entries], meta=meta)
