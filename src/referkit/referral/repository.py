from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

from sqlalchemy import Row, Select, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.db.lookup import owned_by_id
from referkit.db.partitions import created_near
from referkit.db.plain_reads import PlainRead
from referkit.kit.pagination import PageMeta, PageParams, cursor_page, paginate
from referkit.kit.search import matches_any
from referkit.models import Click, Customer, Event, Referral
from referkit.referral.schemas import VIEW_COLUMNS


@dataclass(frozen=True)
class DeviceSighting:
    """One event of a customer: its IP and visitor id, and the visitor id of its click."""

    event_id: str
    ip: str | None
    visitor_id: str | None
    click_id: str | None
    click_visitor_id: str | None


def _select(views: bool) -> tuple[Select[Any], Any]:
    """A page's statement to filter, and the namespace of its columns: the stored referrals,
    or (``views``) their ``VIEW_COLUMNS`` as a Core statement, whose rows skip the ORM's
    loading."""
    if views:
        columns = Referral.__table__.c
        return select(*(columns[name] for name in VIEW_COLUMNS)), columns
    return select(Referral), Referral


@functools.cache
def _member_page(after_cursor: bool, views: bool) -> Select[Any]:
    """One member's referrals, newest first (see ``ReferralRepository.page``)."""
    stmt, row = _select(views)
    stmt = stmt.where(
        row.workspace_id + "" == bindparam("workspace_id"),
        row.livemode == bindparam("livemode"),
        row.member_id == bindparam("member_id"),
    )
    if after_cursor:
        stmt = stmt.where(row.id < bindparam("cursor"))
    return stmt.order_by(row.id.desc()).limit(bindparam("limit"))


@functools.cache
def _member_page_read(after_cursor: bool) -> PlainRead:
    """``_member_page`` of ``VIEW_COLUMNS`` as a plain read."""
    return PlainRead(_member_page(after_cursor, True))


class ReferralFilters(TypedDict, total=False):
    """A referral search's filters (``ReferralRepository.page`` and ``page_views``)."""

    program_id: str | None
    member_id: str | None
    status: str | None
    q: str | None
    created_after: datetime | None
    created_before: datetime | None


class ReferralRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: str, livemode: bool, referral_id: str) -> Referral | None:
        return await owned_by_id(self.session, Referral, workspace_id, livemode, referral_id)

    async def existing_referee(
        self, workspace_id: str, program_id: str, email_key: str | None, external_id: str | None
    ) -> Referral | None:
        for column, value in (
            (Referral.referee_external_id, external_id),
            (Referral.referee_email_key, email_key),
        ):
            if value is None:
                continue
            found: Referral | None = await self.session.scalar(
                select(Referral).where(
                    Referral.workspace_id == workspace_id,
                    Referral.program_id == program_id,
                    column == value,
                )
            )
            if found is not None:
                return found
        return None

    async def latest_for_referee(
        self, workspace_id: str, livemode: bool, email_key: str | None, external_id: str | None
    ) -> Referral | None:
        """The newest referral of this person in any program of the workspace."""
        for column, value in (
            (Referral.referee_external_id, external_id),
            (Referral.referee_email_key, email_key),
        ):
            if value is None:
                continue
            found: Referral | None = await self.session.scalar(
                select(Referral)
                .where(
                    Referral.workspace_id == workspace_id,
                    Referral.livemode == livemode,
                    column == value,
                )
                .order_by(Referral.id.desc())
                .limit(1)
            )
            if found is not None:
                return found
        return None

    async def page(
        self,
        workspace_id: str,
        livemode: bool,
        params: PageParams,
        **filters: Unpack[ReferralFilters],
    ) -> tuple[list[Referral], PageMeta]:
        return await self._page(False, workspace_id, livemode, params, **filters)

    async def page_views(
        self,
        workspace_id: str,
        livemode: bool,
        params: PageParams,
        **filters: Unpack[ReferralFilters],
    ) -> tuple[list[Row[Any]], PageMeta]:
        """The page ``page`` reads, as rows of ``VIEW_COLUMNS`` (for ``referral_views``)."""
        return await self._page(True, workspace_id, livemode, params, **filters)

    async def _page(
        self,
        views: bool,
        workspace_id: str,
        livemode: bool,
        params: PageParams,
        *,
        program_id: str | None = None,
        member_id: str | None = None,
        status: str | None = None,
        q: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> tuple[list[Any], PageMeta]:
        if (
            member_id is not None
            and not params.offset_style
            and all(
                value is None for value in (program_id, status, q, created_after, created_before)
            )
        ):
            # A referrer dashboard asks this on every page view: a statement built once.
            values = {
                "workspace_id": workspace_id,
                "livemode": livemode,
                "member_id": member_id,
                "limit": params.limit + 1,
            }
            if params.cursor_id is not None:
                values["cursor"] = params.cursor_id
            after_cursor = params.cursor_id is not None
            if views:
                rows = await _member_page_read(after_cursor).all(self.session, values)
                return cursor_page(rows, params)
            result = await self.session.execute(_member_page(after_cursor, False), values)
            return cursor_page(list(result.scalars().all()), params)
        stmt, row = _select(views)
        # One member's referrals: read through ix_referrals_member_id and sort those few.
        # Left as a bare column, the tenancy filter lets SQLite (which keeps no statistics)
        # walk the whole workspace's (workspace_id, livemode, id) index newest first instead.
        tenancy = row.workspace_id if member_id is None else row.workspace_id + ""
        stmt = stmt.where(tenancy == workspace_id, row.livemode == livemode)
        if program_id is not None:
            stmt = stmt.where(row.program_id == program_id)
        if member_id is not None:
            stmt = stmt.where(row.member_id == member_id)
        if status is not None:
            stmt = stmt.where(row.status == status)
        if q:
            stmt = stmt.where(
                matches_any(q, row.referee_email, row.referee_name, row.referee_external_id)
            )
        if created_after is not None:
            stmt = stmt.where(row.created_at >= created_after)
        if created_before is not None:
            stmt = stmt.where(row.created_at < created_before)
        return await paginate(self.session, stmt, row.id, params, rows=views)

    async def count_by_member_since(
        self, workspace_id: str, member_id: str, since: datetime
    ) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(Referral)
            .where(
                Referral.workspace_id == workspace_id,
                Referral.member_id == member_id,
                Referral.created_at >= since,
            )
        )
        return int(count or 0)

    async def add(self, referral: Referral) -> Referral:
        self.session.add(referral)
        await self.session.flush()
        return referral

    async def delete(self, referral: Referral) -> None:
        await self.session.delete(referral)
        await self.session.flush()

    async def click_visitor_id(
        self, workspace_id: str, livemode: bool, click_id: str
    ) -> str | None:
        visitor_id: str | None = await self.session.scalar(
            select(Click.visitor_id).where(
                Click.id == click_id,
                Click.workspace_id == workspace_id,
                Click.livemode == livemode,
                created_near(Click.created_at, click_id),
            )
        )
        return visitor_id

    async def customer_sightings(
        self,
        workspace_id: str,
        livemode: bool,
        external_id: str | None,
        email_key: str | None,
        limit: int,
    ) -> list[DeviceSighting]:
        """The newest ``limit`` events (with an IP, a visitor id or a click) of the customer
        with this external id or email, with the visitor id of each event's click.

        A customer is looked up by each unique key (at most two rows), then each one's events
        newest first through ``ix_events_customer_id_id``: bounded whatever the table's size.
        """
        identities = [
            column == value
            for column, value in (
                (Customer.external_id, external_id),
                (Customer.email_key, email_key),
            )
            if value is not None
        ]
        if not identities:
            return []
        customer_ids = (
            await self.session.scalars(
                select(Customer.id).where(
                    Customer.workspace_id == workspace_id,
                    Customer.livemode == livemode,
                    or_(*identities),
                )
            )
        ).all()
        sightings: list[DeviceSighting] = []
        for customer_id in customer_ids:
            rows = await self.session.execute(
                select(Event.id, Event.ip, Event.visitor_id, Event.click_id, Click.visitor_id)
                .outerjoin(
                    Click, (Click.id == Event.click_id) & (Click.workspace_id == workspace_id)
                )
                .where(
                    Event.customer_id == customer_id,
                    or_(
                        Event.ip.is_not(None),
                        Event.visitor_id.is_not(None),
                        Event.click_id.is_not(None),
                    ),
                )
                .order_by(Event.id.desc())
                .limit(limit)
            )
            sightings.extend(DeviceSighting(*row) for row in rows.all())
        sightings.sort(key=lambda sighting: sighting.event_id, reverse=True)
        return sightings[:limit]
