"""Row claiming that works on both engines.

PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` lets many workers claim disjoint rows at once;
a row another transaction holds is skipped, never waited for. SQLite has no row locks, but our
write transactions begin IMMEDIATE (see ``db.engine``): only one claimer runs at a time, so the
plain ``SELECT`` followed by the lease ``UPDATE`` in the same transaction is already exclusive.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


def skip_locked(session: AsyncSession, stmt: SelectT, *of: Any) -> SelectT:
    """``stmt`` with ``FOR UPDATE [OF …] SKIP LOCKED`` on PostgreSQL; unchanged on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True, of=list(of) or None)
    return stmt
