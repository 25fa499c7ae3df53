from __future__ import annotations

from fastapi import APIRouter

from referkit.auth.dependencies import ReadPrincipal, Session
from referkit.kit.pagination import MAX_PAGE
from referkit.workspace.schemas import Plan, Usage, WorkspaceRead
from referkit.workspace.service import DEFAULT_RATE_LIMIT_PER_MINUTE, WorkspaceService

router = APIRouter(tags=["Workspace"])


@router.get("/workspace", summary="The caller's workspace, its limits and its usage")
async def get_workspace(principal: ReadPrincipal, session: Session) -> WorkspaceRead:
    workspace, usage = await WorkspaceService(session).describe(principal)
    return WorkspaceRead(
        id=workspace.id,
        name=workspace.name,
        mode=principal.mode,
        created_at=workspace.created_at,
        plan=Plan(
            name="self-hosted",
            rate_limit_per_minute=principal.rate_limit_per_minute or DEFAULT_RATE_LIMIT_PER_MINUTE,
            max_page_size=MAX_PAGE,
            max_batch_size=1000,
        ),
        usage=Usage(**usage),
    )
