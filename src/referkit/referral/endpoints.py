from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, status

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.db.session import APIRouter, replica_reads
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.kit.schemas import UtcDatetime
from referkit.models import Referral as ReferralRow
from referkit.openapi import problems
from referkit.referral.schemas import Referral, ReferralCreate, ReferralUpdate, referral_view
from referkit.referral.service import ReferralService
from referkit.referral.states import ReferralStatus

router = APIRouter(prefix="/referrals", tags=["Referrals"])

ReferralPage = Page[Referral]


def referral_out(row: ReferralRow) -> Referral:
    return referral_view(row)


@router.post(
    "",
    summary="Record a referred friend",
    description=(
        "Credits the friend to the referrer named by `referral_code` (or `member_id`). Refuses "
        "self-referrals (422 `self_referral`) and a referee already referred in the program "
        "(409 `conflict` with `existing_id`). Runs the program's fraud checks (including "
        "`same_visitor`/`same_ip` from `ip`, `visitor_id` and the click): their signals are "
        "stored in `fraud`, or refuse the referral (422 `fraud_blocked`) in `block` mode."
    ),
    status_code=status.HTTP_201_CREATED,
    responses=problems(404, 409, 422),
)
async def create_referral(
    body: ReferralCreate, principal: WritePrincipal, session: Session
) -> Referral:
    return referral_out(await ReferralService(session).create(principal, body))


@router.get("", summary="Search referrals", responses=problems(422))
@replica_reads
async def list_referrals(
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    program_id: Annotated[str | None, Query(max_length=40)] = None,
    member_id: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[ReferralStatus | None, Query()] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Matches referee email, name, external id.")
    ] = None,
    created_after: Annotated[UtcDatetime | None, Query(description="Inclusive, ISO 8601.")] = None,
    created_before: Annotated[UtcDatetime | None, Query(description="Exclusive, ISO 8601.")] = None,
) -> Page[Referral]:
    referrals, meta = await ReferralService(session).search_views(
        principal,
        page,
        program_id=program_id,
        member_id=member_id,
        status=status,
        q=q,
        created_after=created_after,
        created_before=created_before,
    )
    return ReferralPage.model_construct(data=referrals, meta=meta)  # both validated already


@router.get("/{referral_id}", summary="Get a referral", responses=problems(404))
async def get_referral(referral_id: str, principal: ReadPrincipal, session: Session) -> Referral:
    return referral_out(await ReferralService(session).get(principal, referral_id))


@router.patch(
    "/{referral_id}",
    summary="Change a referral's status or note",
    description="An illegal status change answers 409 `invalid_transition`.",
    responses=problems(404, 409, 422),
)
async def update_referral(
    referral_id: str, body: ReferralUpdate, principal: WritePrincipal, session: Session
) -> Referral:
    return referral_out(await ReferralService(session).update(principal, referral_id, body))
