from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.plain_reads import PlainRead
from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.models import ApiKey, Workspace

_CREDENTIALS = PlainRead(
    select(
        ApiKey.id,
        ApiKey.workspace_id,
        ApiKey.scope,
        ApiKey.livemode,
        func.coalesce(ApiKey.rate_limit_per_minute, Workspace.rate_limit_per_minute).label(
            "rate_limit_per_minute"
        ),
        ApiKey.last_used_at,
        ApiKey.app_id,
    )
    .join(Workspace, Workspace.id == ApiKey.workspace_id)
    .where(ApiKey.secret_hash == bindparam("secret_hash"), ApiKey.revoked_at.is_(None))
)
"""What authentication needs of an active key, the workspace's default limit included, in one
indexed read of plain columns (no ORM object to build per request)."""


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_secret_hash(self, secret_hash: str) -> ApiKey | None:
        result: ApiKey | None = await self.session.scalar(
            select(ApiKey).where(ApiKey.secret_hash == secret_hash)
        )
        return result

    async def credentials(self, secret_hash: str) -> Any | None:
        """The active key with this secret hash, as a row of ``id, workspace_id, scope,
        livemode, rate_limit_per_minute, last_used_at, app_id`` (the limit falling back to the
        workspace's); None when there is no such key or it is revoked."""
        # Before the request's unit of work: a write request's transaction starts after it.
        return await _CREDENTIALS.first(
            self.session, {"secret_hash": secret_hash}, before_transaction=True
        )

    async def by_public_key(self, public_key: str) -> ApiKey | None:
        result: ApiKey | None = await self.session.scalar(
            select(ApiKey).where(ApiKey.public_key == public_key)
        )
        return result

    async def get(
        self, workspace_id: str, livemodes: tuple[bool, ...], key_id: str
    ) -> ApiKey | None:
        """An active key of the workspace in one of ``livemodes``."""
        result: ApiKey | None = await self.session.scalar(
            select(ApiKey).where(
                ApiKey.id == key_id,
                ApiKey.workspace_id == workspace_id,
                ApiKey.livemode.in_(livemodes),
                ApiKey.revoked_at.is_(None),
            )
        )
        return result

    async def page(
        self, workspace_id: str, livemode: bool, include_revoked: bool, params: PageParams
    ) -> tuple[list[ApiKey], PageMeta]:
        stmt = select(ApiKey).where(
            ApiKey.workspace_id == workspace_id, ApiKey.livemode == livemode
        )
        if not include_revoked:
            stmt = stmt.where(ApiKey.revoked_at.is_(None))
        return await paginate(self.session, stmt, ApiKey.id, params)

    async def record_use(self, key_id: str, now: datetime, unless_since: datetime) -> None:
        await self.session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= unless_since),
            )
            .values(last_used_at=now)
        )

    async def active_named(self, workspace_id: str, name: str) -> list[ApiKey]:
        result = await self.session.scalars(
            select(ApiKey).where(
                ApiKey.workspace_id == workspace_id,
                ApiKey.name == name,
                ApiKey.revoked_at.is_(None),
            )
        )
        return list(result)

    async def workspace_rate_limit(self, workspace_id: str) -> int | None:
        result: int | None = await self.session.scalar(
            select(Workspace.rate_limit_per_minute).where(Workspace.id == workspace_id)
        )
        return result

    async def add(self, key: ApiKey) -> ApiKey:
        self.session.add(key)
        await self.session.flush()
        return key
