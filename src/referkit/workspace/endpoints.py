from __future__ import annotations

from fastapi import Request

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.config import Settings
from referkit.db.session import APIRouter
from referkit.kit.pagination import MAX_PAGE
from referkit.openapi import problems
from referkit.workspace.schemas import (
    Plan,
    RetentionRead,
    TestDataDeleted,
    Usage,
    WorkspaceRead,
    WorkspaceUpdate,
)
from referkit.workspace.service import Description, WorkspaceService

router = APIRouter(tags=["Workspace"])


def _out(description: Description, principal: ReadPrincipal) -> WorkspaceRead:
    workspace = description.workspace
    return WorkspaceRead(
        id=workspace.id,
        name=workspace.name,
        mode=principal.mode,
        created_at=workspace.created_at,
        rate_limit_per_minute=workspace.rate_limit_per_minute,
        plan=Plan(
            name="self-hosted",
            rate_limit_per_minute=description.rate_limit_per_minute,
            max_page_size=MAX_PAGE,
            max_batch_size=1000,
        ),
        usage=Usage(**description.usage),
        retention=RetentionRead(
            raw_detail_days=workspace.raw_detail_days,
            purged_before=workspace.detail_purged_before,
        ),
    )


def _default_limit(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.rate_limit_per_minute


@router.get("/workspace", summary="The caller's workspace, its limits and its usage")
async def get_workspace(
    request: Request, principal: ReadPrincipal, session: Session
) -> WorkspaceRead:
    description = await WorkspaceService(session).describe(principal, _default_limit(request))
    return _out(description, principal)


@router.patch(
    "/workspace",
    summary="Rename the workspace, set its default rate limit or its data retention",
    responses=problems(409, 422),
)
async def update_workspace(
    body: WorkspaceUpdate, request: Request, principal: WritePrincipal, session: Session
) -> WorkspaceRead:
    changes = body.model_dump(exclude_unset=True)
    description = await WorkspaceService(session).update(
        principal, changes, _default_limit(request)
    )
    return _out(description, principal)


@router.delete(
    "/test-data",
    summary="Delete all of the workspace's test-mode data (test keys only)",
    responses=problems(),
)
async def delete_test_data(principal: WritePrincipal, session: Session) -> TestDataDeleted:
    return TestDataDeleted(deleted=await WorkspaceService(session).wipe_test_data(principal))
