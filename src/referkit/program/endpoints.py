from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, status

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.db.session import APIRouter, replica_reads
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.openapi import problems
from referkit.program.schemas import Program, ProgramCreate, ProgramStatus, ProgramUpdate
from referkit.program.service import ProgramService

router = APIRouter(prefix="/programs", tags=["Programs"])


@router.get("", summary="List programs", responses=problems(422))
@replica_reads
async def list_programs(
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[ProgramStatus | None, Query(description="Only this status.")] = None,
) -> Page[Program]:
    programs, meta = await ProgramService(session).list(principal, status, page)
    return Page[Program](data=[Program.model_validate(p) for p in programs], meta=meta)


@router.post(
    "",
    summary="Create a program",
    status_code=status.HTTP_201_CREATED,
    responses=problems(409, 422),
)
async def create_program(
    body: ProgramCreate, principal: WritePrincipal, session: Session
) -> Program:
    return Program.model_validate(await ProgramService(session).create(principal, body))


@router.get("/{program_id}", summary="Get a program", responses=problems(404))
async def get_program(program_id: str, principal: ReadPrincipal, session: Session) -> Program:
    return Program.model_validate(await ProgramService(session).read(principal, program_id))


@router.patch("/{program_id}", summary="Update a program", responses=problems(404, 409, 422))
async def update_program(
    program_id: str, body: ProgramUpdate, principal: WritePrincipal, session: Session
) -> Program:
    return Program.model_validate(await ProgramService(session).update(principal, program_id, body))


@router.delete(
    "/{program_id}",
    summary="Delete a program with its members and referrals",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(404),
)
async def delete_program(program_id: str, principal: WritePrincipal, session: Session) -> None:
    await ProgramService(session).delete(principal, program_id)
