from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.base import Base
from referkit.models import ApiKey, Member, Program, Referral, Workspace


class WorkspaceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: str) -> Workspace | None:
        return await self.session.get(Workspace, workspace_id)

    async def by_name(self, name: str) -> Workspace | None:
        result: Workspace | None = await self.session.scalar(
            select(Workspace).where(Workspace.name == name)
        )
        return result

    async def add(self, workspace: Workspace) -> Workspace:
        self.session.add(workspace)
        await self.session.flush()
        return workspace

    async def key_rate_limit(self, key_id: str) -> int | None:
        result: int | None = await self.session.scalar(
            select(ApiKey.rate_limit_per_minute).where(ApiKey.id == key_id)
        )
        return result

    async def delete_test_data(self, workspace_id: str) -> dict[str, int]:
        """Delete every test-mode row of the workspace (API keys stay), children first.

        Every tenant-owned table carries ``workspace_id`` and ``livemode``; walking the tables
        in reverse dependency order deletes children before their parents on both engines.
        """
        deleted: dict[str, int] = {}
        for table in reversed(Base.metadata.sorted_tables):
            columns = table.columns
            if table.name == "api_keys" or "livemode" not in columns:
                continue
            if "workspace_id" not in columns:
                continue
            result = await self.session.execute(
                delete(table).where(
                    columns["workspace_id"] == workspace_id, columns["livemode"].is_(False)
                )
            )
            deleted[table.name] = int(getattr(result, "rowcount", 0) or 0)
        return deleted

    async def usage(self, workspace_id: str, livemode: bool) -> dict[str, int]:
        counts: dict[str, int] = {}
        tables: dict[str, Any] = {
            "programs": Program,
            "members": Member,
            "referrals": Referral,
            "api_keys": ApiKey,
        }
        for name, model in tables.items():
            stmt = (
                select(func.count())
                .select_from(model)
                .where(model.workspace_id == workspace_id, model.livemode == livemode)
            )
            if model is Member:
                stmt = stmt.where(Member.deleted_at.is_(None))
            if model is ApiKey:
                stmt = stmt.where(ApiKey.revoked_at.is_(None))
            counts[name] = int(await self.session.scalar(stmt) or 0)
        return counts
