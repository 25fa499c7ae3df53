from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.models import IdempotencyKey


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, workspace_id: str, api_key_id: str, key: str) -> IdempotencyKey | None:
        result: IdempotencyKey | None = await self.session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.workspace_id == workspace_id,
                IdempotencyKey.api_key_id == api_key_id,
                IdempotencyKey.key == key,
            )
        )
        return result

    async def get(self, workspace_id: str, record_id: str) -> IdempotencyKey | None:
        return await self.session.get(IdempotencyKey, (workspace_id, record_id))

    async def add(self, record: IdempotencyKey) -> None:
        self.session.add(record)
        await self.session.flush()

    async def remove(self, record: IdempotencyKey) -> None:
        await self.session.delete(record)
        await self.session.flush()

    async def completed_after(self, after_id: str, limit: int) -> list[IdempotencyKey]:
        rows = await self.session.scalars(
            select(IdempotencyKey)
            .where(IdempotencyKey.id > after_id, IdempotencyKey.body.is_not(None))
            .order_by(IdempotencyKey.id)
            .limit(limit)
            .with_for_update()
        )
        return list(rows.all())

    async def purge(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)
