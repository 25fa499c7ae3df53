from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response, status

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.db.session import APIRouter, replica_reads
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.member.schemas import (
    Member,
    MemberCreate,
    MemberStatus,
    MemberUpdate,
    member_view,
)
from referkit.member.service import MemberService
from referkit.models import Member as MemberRow
from referkit.openapi import problems

router = APIRouter(tags=["Members"])


def member_out(request: Request, member: MemberRow) -> Member:
    return member_view(member, request.app.state.settings.base_url)


@router.post(
    "/programs/{program_id}/members",
    summary="Create or fetch a member (referrer) by email and/or external_id",
    description=(
        "Answers 201 with a new member, or 200 with the existing member that has this "
        "`external_id` (or, failing that, this `email`). Safe to call on every login."
    ),
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": Member, "description": "The member already existed."},
        **problems(404, 409, 422),
    },
)
async def create_member(
    program_id: str,
    body: MemberCreate,
    request: Request,
    response: Response,
    principal: WritePrincipal,
    session: Session,
) -> Member:
    member, created = await MemberService(session).create_or_fetch_view(
        principal, program_id, body, request.app.state.settings.base_url
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return member


@router.get(
    "/programs/{program_id}/members",
    summary="List a program's members",
    responses=problems(404, 422),
)
@replica_reads
async def list_members(
    program_id: str,
    request: Request,
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[
        str | None, Query(max_length=200, description="Matches email, external id, code, name.")
    ] = None,
    status: Annotated[MemberStatus | None, Query()] = None,
    email: Annotated[str | None, Query(max_length=320, description="Exact email.")] = None,
    external_id: Annotated[str | None, Query(max_length=200, description="Exact id.")] = None,
) -> Page[Member]:
    members, meta = await MemberService(session).list(
        principal, program_id, page, q=q, status=status, email=email, external_id=external_id
    )
    return Page[Member](data=[member_out(request, m) for m in members], meta=meta)


@router.get("/members/{member_id}", summary="Get a member", responses=problems(404))
async def get_member(
    member_id: str, request: Request, principal: ReadPrincipal, session: Session
) -> Member:
    return member_out(request, await MemberService(session).get(principal, member_id))


@router.patch("/members/{member_id}", summary="Update a member", responses=problems(404, 409, 422))
async def update_member(
    member_id: str,
    body: MemberUpdate,
    request: Request,
    principal: WritePrincipal,
    session: Session,
) -> Member:
    return member_out(request, await MemberService(session).update(principal, member_id, body))


@router.delete(
    "/members/{member_id}",
    summary="Delete a member and erase their personal data",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(404),
)
async def delete_member(member_id: str, principal: WritePrincipal, session: Session) -> None:
    await MemberService(session).erase(principal, member_id)
