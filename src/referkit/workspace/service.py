from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import Conflict, InsufficientScope, NotFound
from referkit.kit.ids import new_id
from referkit.kit.time import utcnow
from referkit.link.changes import link_changes
from referkit.models import Workspace
from referkit.workspace.repository import WorkspaceRepository


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

    async def describe(self, principal: Principal, default_limit: int) -> Description:
        workspace = await self.workspaces.get(principal.workspace_id)
        if workspace is None:
            raise NotFound("The workspace of this key no longer exists.")
        usage = await self.workspaces.usage(principal.workspace_id, principal.livemode)
        key_limit = await self.workspaces.key_rate_limit(principal.key_id)
        effective = key_limit or workspace.rate_limit_per_minute or default_limit
        return Description(workspace, usage, effective)

    async def update(
        self, principal: Principal, changes: dict[str, Any], default_limit: int
    ) -> Description:
        workspace = await self.workspaces.get(principal.workspace_id)
        if workspace is None:
            raise NotFound("The workspace of this key no longer exists.")
        if "name" in changes and changes["name"] != workspace.name:
            if await self.workspaces.by_name(changes["name"]) is not None:
                raise Conflict(f"A workspace named {changes['name']!r} already exists.")
            workspace.name = changes["name"]
        if "rate_limit_per_minute" in changes:
            workspace.rate_limit_per_minute = changes["rate_limit_per_minute"]
            # Cached credentials carry the limit: once committed, every process drops them.
            link_changes(self.session).key_workspaces.add(workspace.id)
        retention = changes.get("retention")
        if retention is not None and "raw_detail_days" in retention:
            workspace.raw_detail_days = retention["raw_detail_days"]
        await self.session.flush()
        return await self.describe(principal, default_limit)

    async def wipe_test_data(self, principal: Principal) -> dict[str, int]:
        if principal.livemode:
            raise InsufficientScope("Only a test-mode key can wipe test data.")
        deleted = await self.workspaces.delete_test_data(principal.workspace_id)
        link_changes(self.session).test_workspaces.add(principal.workspace_id)
        return deleted


@dataclass(frozen=True)
class Description:
    workspace: Workspace
    usage: dict[str, int]
    rate_limit_per_minute: int
