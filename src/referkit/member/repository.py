from __future__ import annotations

import functools
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from referkit.db.lookup import one_by, owned_by_id
from referkit.db.plain_reads import PlainRead
from referkit.kit.pagination import PageMeta, PageParams, paginate
from referkit.kit.search import matches_any
from referkit.models import Member, Program

_T = TypeVar("_T")

_BY_EXTERNAL_ID = aliased(Member, name="by_external_id")
_BY_EMAIL = aliased(Member, name="by_email")

STORED_KEYS = tuple(attribute.key for attribute in inspect(Member).column_attrs)
"""The attribute names of a member's columns (``metadata_`` for the ``metadata`` column): the
keys of ``MemberRepository.identify_stored``'s values, as of a loaded row's ``__dict__``."""

Identified = tuple[_T | None, _T | None]
"""The program's member with the external id, and the one with the email key (None for an
identity not asked for or not found)."""


@functools.cache
def _identify_statement(external_id: bool, email: bool, *, rows: bool) -> Select[*tuple[Any, ...]]:
    """``SELECT program.id, member by external id, member by email key`` for a program of a
    workspace and mode: no row when there is no such program; a member's part is NULL when the
    program has no (live) member with that identity, or the identity was not asked for. The
    members as ORM rows, or (``rows=False``) as their columns in ``STORED_KEYS`` order. Built
    once per shape, as ``db.lookup`` builds its statements."""
    wanted = [(_BY_EXTERNAL_ID, "external_id", external_id), (_BY_EMAIL, "email_key", email)]
    members = [alias for alias, _, asked in wanted if asked]
    selected: list[Any] = (
        members if rows else [getattr(alias, key) for alias in members for key in STORED_KEYS]
    )
    stmt: Select[*tuple[Any, ...]] = select(Program.id, *selected).select_from(Program)
    for alias, column, asked in wanted:
        if asked:
            stmt = stmt.outerjoin(
                alias,
                and_(
                    alias.workspace_id == bindparam("workspace_id"),
                    alias.program_id == bindparam("program_id"),
                    getattr(alias, column) == bindparam(column),
                    alias.deleted_at.is_(None),
                ),
            )
    return stmt.where(
        Program.id == bindparam("program_id"),
        Program.workspace_id == bindparam("workspace_id"),
        Program.livemode == bindparam("livemode"),
    )


@functools.cache
def _identify_read(external_id: bool, email: bool) -> PlainRead:
    return PlainRead(_identify_statement(external_id, email, rows=False))


def _identified(
    found: list[_T | None], external_id: str | None, email_key: str | None
) -> Identified[_T]:
    """The members ``_identify_statement`` selected, in its order, as (by external id, by
    email): each None when its identity was not asked for."""
    members = iter(found)
    by_external = next(members) if external_id is not None else None
    by_email = next(members) if email_key is not None else None
    return by_external, by_email


def _identify_params(
    workspace_id: str,
    livemode: bool,
    program_id: str,
    external_id: str | None,
    email_key: str | None,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "program_id": program_id,
        "workspace_id": workspace_id,
        "livemode": livemode,
    }
    if external_id is not None:
        params["external_id"] = external_id
    if email_key is not None:
        params["email_key"] = email_key
    return params


class MemberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _one(self, *conditions: object) -> Member | None:
        stmt = select(Member).where(Member.deleted_at.is_(None), *conditions)  # type: ignore[arg-type]
        result: Member | None = await self.session.scalar(stmt)
        return result

    async def get(self, workspace_id: str, livemode: bool, member_id: str) -> Member | None:
        return await owned_by_id(
            self.session, Member, workspace_id, livemode, member_id, live_only=True
        )

    async def by_ids(self, workspace_id: str, livemode: bool, ids: list[str]) -> list[Member]:
        if not ids:
            return []
        stmt = select(Member).where(
            Member.id.in_(ids),
            Member.workspace_id == workspace_id,
            Member.livemode == livemode,
            Member.deleted_at.is_(None),
        )
        return list((await self.session.scalars(stmt)).all())

    async def by_email(self, workspace_id: str, program_id: str, email_key: str) -> Member | None:
        return await self._in_program(workspace_id, program_id, email_key=email_key)

    async def by_external_id(
        self, workspace_id: str, program_id: str, external_id: str
    ) -> Member | None:
        return await self._in_program(workspace_id, program_id, external_id=external_id)

    async def identify(
        self,
        workspace_id: str,
        livemode: bool,
        program_id: str,
        *,
        external_id: str | None,
        email_key: str | None,
    ) -> Identified[Member] | None:
        """The program's members (not deleted) with this external id and with this email key,
        read with the program in one statement; None when the workspace has no such program in
        this mode. What ``by_external_id`` and ``by_email`` answer, after ``ProgramRepository.get``
        found the program."""
        params = _identify_params(workspace_id, livemode, program_id, external_id, email_key)
        stmt = _identify_statement(external_id is not None, email_key is not None, rows=True)
        row = (await self.session.execute(stmt, params)).first()
        if row is None:
            return None
        return _identified(list(row[1:]), external_id, email_key)

    async def identify_stored(
        self,
        workspace_id: str,
        livemode: bool,
        program_id: str,
        *,
        external_id: str | None,
        email_key: str | None,
    ) -> Identified[dict[str, Any]] | None:
        """``identify`` answered with each member's stored values (``STORED_KEYS``) rather than
        a row of the session: one plain read, without the ORM's work of loading rows, for a
        caller that only reads them. It is read ahead of the session's transaction (on SQLite,
        of a write session's ``BEGIN IMMEDIATE``): a caller that goes on to change anything
        reads the members again in the transaction (``identify``)."""
        params = _identify_params(workspace_id, livemode, program_id, external_id, email_key)
        read = _identify_read(external_id is not None, email_key is not None)
        row = await read.first(self.session, params, before_transaction=True)
        if row is None:
            return None
        width = len(STORED_KEYS)
        found: list[dict[str, Any] | None] = []
        for start in range(1, len(row), width):
            values = row[start : start + width]
            found.append(
                dict(zip(STORED_KEYS, values, strict=True)) if values[0] is not None else None
            )
        return _identified(found, external_id, email_key)

    async def _in_program(
        self, workspace_id: str, program_id: str, **identity: str
    ) -> Member | None:
        """The program's member (not deleted) with this identity (an email key or external id)."""
        return await one_by(
            self.session,
            Member,
            live_only=True,
            workspace_id=workspace_id,
            program_id=program_id,
            **identity,
        )

    async def by_code(self, workspace_id: str, livemode: bool, code_key: str) -> Member | None:
        return await self._one(
            Member.code_key == code_key,
            Member.workspace_id == workspace_id,
            Member.livemode == livemode,
        )

    async def page(
        self,
        workspace_id: str,
        livemode: bool,
        params: PageParams,
        *,
        program_id: str | None,
        q: str | None = None,
        status: str | None = None,
        email_key: str | None = None,
        external_id: str | None = None,
    ) -> tuple[list[Member], PageMeta]:
        stmt = select(Member).where(
            Member.workspace_id == workspace_id,
            Member.livemode == livemode,
            Member.deleted_at.is_(None),
        )
        if program_id is not None:
            stmt = stmt.where(Member.program_id == program_id)
        if q:
            stmt = stmt.where(
                matches_any(q, Member.email, Member.external_id, Member.referral_code, Member.name)
            )
        if status is not None:
            stmt = stmt.where(Member.status == status)
        if email_key is not None:
            stmt = stmt.where(Member.email_key == email_key)
        if external_id is not None:
            stmt = stmt.where(Member.external_id == external_id)
        return await paginate(self.session, stmt, Member.id, params)

    async def add(self, member: Member) -> Member:
        self.session.add(member)
        await self.session.flush()
        return member
