from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.locking import SelectT, skip_locked
from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.models import WebhookAttempt, WebhookEndpoint, WebhookMessage


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_endpoint(
        self, workspace_id: str, livemode: bool, endpoint_id: str
    ) -> WebhookEndpoint | None:
        result: WebhookEndpoint | None = await self.session.scalar(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id == endpoint_id,
                WebhookEndpoint.workspace_id == workspace_id,
                WebhookEndpoint.livemode == livemode,
            )
        )
        return result

    async def endpoint_by_id(self, workspace_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        return await self.session.get(WebhookEndpoint, (workspace_id, endpoint_id))

    async def endpoints_after(self, after_id: str, limit: int) -> list[WebhookEndpoint]:
        """Every workspace's endpoints in id order (maintenance walks, not tenant reads)."""
        rows = await self.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.id > after_id)
            .order_by(WebhookEndpoint.id)
            .limit(limit)
            .with_for_update()  # a secret rotated meanwhile must not be overwritten
        )
        return list(rows.all())

    async def page_endpoints(
        self, workspace_id: str, livemode: bool, params: PageParams
    ) -> tuple[list[WebhookEndpoint], PageMeta]:
        stmt = select(WebhookEndpoint).where(
            WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.livemode == livemode
        )
        return await paginate(self.session, stmt, WebhookEndpoint.id, params)

    async def enabled_endpoints(self, workspace_id: str, livemode: bool) -> list[WebhookEndpoint]:
        rows = await self.session.scalars(
            select(WebhookEndpoint)
            .where(
                WebhookEndpoint.workspace_id == workspace_id,
                WebhookEndpoint.livemode == livemode,
                WebhookEndpoint.enabled.is_(True),
            )
            .order_by(WebhookEndpoint.id)
        )
        return list(rows.all())

    async def add(self, *rows: WebhookEndpoint | WebhookMessage | WebhookAttempt) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def delete_endpoint(self, endpoint: WebhookEndpoint) -> None:
        # Attempts → messages → endpoint: the same order the worker locks in.
        ws = endpoint.workspace_id
        message_ids = select(WebhookMessage.id).where(
            WebhookMessage.workspace_id == ws, WebhookMessage.endpoint_id == endpoint.id
        )
        await self.session.execute(
            delete(WebhookAttempt).where(
                WebhookAttempt.workspace_id == ws, WebhookAttempt.message_id.in_(message_ids)
            )
        )
        await self.session.execute(
            delete(WebhookMessage).where(
                WebhookMessage.workspace_id == ws, WebhookMessage.endpoint_id == endpoint.id
            )
        )
        await self.session.delete(endpoint)
        await self.session.flush()

    async def get_message(
        self, workspace_id: str, livemode: bool, message_id: str
    ) -> WebhookMessage | None:
        result: WebhookMessage | None = await self.session.scalar(
            select(WebhookMessage).where(
                WebhookMessage.id == message_id,
                WebhookMessage.workspace_id == workspace_id,
                WebhookMessage.livemode == livemode,
            )
        )
        return result

    async def message_by_id(self, workspace_id: str, message_id: str) -> WebhookMessage | None:
        return await self.session.get(WebhookMessage, (workspace_id, message_id))

    async def page_messages(
        self,
        workspace_id: str,
        endpoint_id: str,
        params: PageParams,
        *,
        status: str | None,
        event_type: str | None,
    ) -> tuple[list[WebhookMessage], PageMeta]:
        stmt = select(WebhookMessage).where(
            WebhookMessage.workspace_id == workspace_id, WebhookMessage.endpoint_id == endpoint_id
        )
        if status is not None:
            stmt = stmt.where(WebhookMessage.status == status)
        if event_type is not None:
            stmt = stmt.where(WebhookMessage.event_type == event_type)
        return await paginate(self.session, stmt, WebhookMessage.id, params)

    async def attempts_for(
        self, workspace_id: str, message_ids: Sequence[str]
    ) -> list[WebhookAttempt]:
        if not message_ids:
            return []
        rows = await self.session.scalars(
            select(WebhookAttempt)
            .where(
                WebhookAttempt.workspace_id == workspace_id,
                WebhookAttempt.message_id.in_(message_ids),
            )
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
        )
        return list(rows.all())

    async def recent_bodies(
        self, workspace_id: str, livemode: bool, event_type: str, limit: int
    ) -> list[str]:
        rows = await self.session.scalars(
            select(WebhookMessage.body)
            .where(
                WebhookMessage.workspace_id == workspace_id,
                WebhookMessage.livemode == livemode,
                WebhookMessage.event_type == event_type,
            )
            .order_by(WebhookMessage.id.desc())
            .limit(limit)
        )
        return list(rows.all())

    @staticmethod
    def _due(stmt: SelectT, now: datetime) -> SelectT:
        # Joined on the workspace too: co-located on a cluster sharded by workspace.
        same_endpoint = (WebhookEndpoint.workspace_id == WebhookMessage.workspace_id) & (
            WebhookEndpoint.id == WebhookMessage.endpoint_id
        )
        return stmt.join(WebhookEndpoint, same_endpoint).where(
            WebhookMessage.status == "pending",
            WebhookMessage.next_attempt_at <= now,
            WebhookEndpoint.enabled.is_(True),
        )

    async def any_due(self, now: datetime) -> bool:
        found = await self.session.scalar(self._due(select(WebhookMessage.id), now).limit(1))
        return found is not None

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[tuple[WebhookMessage, WebhookEndpoint]]:
        """Lease up to ``limit`` due messages of enabled endpoints (see ``db.locking``)."""
        stmt = self._due(select(WebhookMessage, WebhookEndpoint), now)
        stmt = stmt.order_by(WebhookMessage.next_attempt_at, WebhookMessage.id).limit(limit)
        result = await self.session.execute(skip_locked(self.session, stmt, WebhookMessage))
        rows = [(row[0], row[1]) for row in result.all()]
        if rows:
            await self.session.execute(
                update(WebhookMessage)
                .where(WebhookMessage.id.in_([message.id for message, _ in rows]))
                .values(next_attempt_at=lease_until)
                .execution_options(synchronize_session=False)
            )
        return rows

    async def count_failure(
        self, workspace_id: str, endpoint_id: str, now: datetime, *, new_message: bool
    ) -> None:
        """Atomically note a failed attempt (concurrent workers may fail the same endpoint)."""
        values: dict[str, object] = {}
        if new_message:
            values["consecutive_failures"] = WebhookEndpoint.consecutive_failures + 1
        await self.session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.workspace_id == workspace_id,
                WebhookEndpoint.id == endpoint_id,
                WebhookEndpoint.failing_since.is_(None),
            )
            .values(failing_since=now)
            .execution_options(synchronize_session=False)
        )
        if values:
            await self.session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.id == endpoint_id
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    async def count_success(self, workspace_id: str, endpoint_id: str) -> None:
        await self.session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.workspace_id == workspace_id,
                WebhookEndpoint.id == endpoint_id,
                (WebhookEndpoint.consecutive_failures != 0)
                | WebhookEndpoint.failing_since.is_not(None),
            )
            .values(consecutive_failures=0, failing_since=None)
            .execution_options(synchronize_session=False)
        )

    async def failure_state(
        self, workspace_id: str, endpoint_id: str
    ) -> tuple[bool, int, datetime | None]:
        row = (
            await self.session.execute(
                select(
                    WebhookEndpoint.enabled,
                    WebhookEndpoint.consecutive_failures,
                    WebhookEndpoint.failing_since,
                ).where(
                    WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.id == endpoint_id
                )
            )
        ).one()
        return bool(row[0]), int(row[1]), row[2]

    async def disable(
        self, workspace_id: str, endpoint_id: str, reason: str, now: datetime
    ) -> bool:
        """Disable if enabled; True when this call did it (so one message is recorded)."""
        result = await self.session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.workspace_id == workspace_id,
                WebhookEndpoint.id == endpoint_id,
                WebhookEndpoint.enabled.is_(True),
            )
            .values(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))
