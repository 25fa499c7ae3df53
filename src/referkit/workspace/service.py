from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import NotFound
from referkit.kit.ids import new_id
from referkit.kit.time import utcnow
from referkit.models import Workspace
from referkit.workspace.repository import WorkspaceRepository

DEFAULT_RATE_LIMIT_PER_MINUTE = 600


class WorkspaceService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.workspaces = WorkspaceRepository(session)

    async def get_or_create(self, name: str) -> tuple[Workspace, bool]:
        existing = await self.workspaces.by_name(name)
        if existing is not None:
            return existing, False
        try:
            async with self.session.begin_nested():
                workspace = await self.workspaces.add(
                    Workspace(id=new_id("ws"), name=name, created_at=utcnow())
                )
            return workspace, True
        except IntegrityError:
            again = await self.workspaces.by_name(name)
            assert again is not None
            return again, False

    async def describe(self, principal: Principal) -> tuple[Workspace, dict[str, int]]:
        workspace = await self.workspaces.get(principal.workspace_id)
        if workspace is None:
            raise NotFound("The workspace of this key no longer exists.")
        usage = await self.workspaces.usage(principal.workspace_id, principal.livemode)
        return workspace, usage
