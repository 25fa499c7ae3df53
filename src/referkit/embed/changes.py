"""Which members' embedded dashboards a transaction changes, recorded as the ORM writes rows.

Everything the dashboard shows comes from six tables: the member (link, name, status), its
program (name, look, allowed origins, reward rules), its referrals (recent list, qualified
count), its rewards and reward ledger (earned, pending, issued), and its daily rollup rows
(reach, clicks, referrals, qualified referrals). A mapper listener on each records the member
or program a flushed row belongs to in the transaction's ``LinkChanges``; once the transaction
commits, the link cache hands them to its followers here and, with Redis, in every other
process (``referkit.link.cache``), so the next page view reads them afresh.

Writes that bypass the ORM record their own: rollup upserts in a session
(``RollupBuffer.write``), the click writers' own transactions (``link.clicks``), a deleted
program (``programs``) and a test-data wipe (``test_workspaces``).

Importing this module registers the listeners; the app and the standalone worker do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapper, object_session

from referkit.link.changes import link_changes
from referkit.models import LedgerEntry, Member, Program, Referral, Reward, Rollup

_MEMBER_OF: dict[type[Any], str] = {
    Member: "id",
    Referral: "member_id",
    Reward: "member_id",
    LedgerEntry: "member_id",
}


def _record(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    session = object_session(target)
    if session is None:
        return
    changes = link_changes(session)
    if isinstance(target, Program):
        changes.dashboard_programs.add(target.id)
    elif isinstance(target, Rollup):
        if target.scope == "member" and target.scope_id:
            changes.dashboards.add(target.scope_id)
    else:
        member_id = getattr(target, _MEMBER_OF[type(target)], None)
        if member_id:
            changes.dashboards.add(member_id)


for _model in (*_MEMBER_OF, Program, Rollup):
    for _name in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _name, _record)
