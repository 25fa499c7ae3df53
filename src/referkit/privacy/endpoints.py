from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from referkit.auth.dependencies import ReadPrincipal, Session
from referkit.db.session import APIRouter
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.privacy.schemas import Erasure
from referkit.privacy.service import PrivacyService

router = APIRouter(prefix="/erasures", tags=["Data care"])


@router.get("", summary="The erasure log: who erased whose data, when, and how much")
async def list_erasures(
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    subject_id: Annotated[
        str | None, Query(max_length=40, description="A customer or member id.")
    ] = None,
) -> Page[Erasure]:
    rows, meta = await PrivacyService(session).erasures(principal, page, subject_id=subject_id)
    return Page[Erasure](data=[Erasure.model_validate(r) for r in rows], meta=meta)
