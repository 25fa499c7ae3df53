"""Dimension rollups for data stored before breakdowns existed (run by migration
``0022_breakdown``).

Past clicks get their device, OS, browser, referrer and campaign from the user agent, referer
and link they kept (the country stays unknown: raw IPs were never stored), and are counted
with ``click_deltas``, the function the click writers use; past referrals add their signups and
past purchases and refunds their conversions and revenue under their click's groups, as
``ReferralService`` and ``EventService`` do for new ones. Work goes in chunks of clicks
ordered by id, so memory stays flat whatever the table holds.

Runs on a synchronous connection inside the migration's transaction: servers should be stopped
while it runs (``referkit serve`` migrates before it listens), otherwise clicks recorded by
processes still on the old code are left out of breakdowns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from referkit.link.dimensions import agent_of, referrer_of
from referkit.models import AppClick, Click, DimensionRollup, Event, Link, Referral
from referkit.stats.dimensions import (
    CLICK_DIMENSIONS,
    COUNTERS,
    KEY,
    DimensionBuffer,
    Groups,
    app_groups,
    click_deltas,
)

CHUNK = 5000
_TABLE = cast(Table, DimensionRollup.__table__)
_CLICKS = cast(Table, Click.__table__)


def write(conn: Connection, buffer: DimensionBuffer) -> None:
    """The counter upsert of ``buffer`` on a synchronous connection."""
    rows = buffer.sorted_rows()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    per_statement = 2000
    for start in range(0, len(rows), per_statement):
        stmt = dialect.insert(_TABLE).values(rows[start : start + per_statement])
        stmt = stmt.on_conflict_do_update(
            index_elements=KEY,
            set_={name: _TABLE.c[name] + stmt.excluded[name] for name in COUNTERS},
        )
        conn.execute(stmt)
    buffer.rows.clear()


def _chunks(conn: Connection, stmt: Any, column: Any) -> Iterator[list[dict[str, Any]]]:
    """``stmt``'s rows in chunks, walked by ``column`` (a unique key)."""
    last: Any = None
    while True:
        page = stmt if last is None else stmt.where(column > last)
        rows = [dict(row) for row in conn.execute(page.order_by(column).limit(CHUNK)).mappings()]
        if not rows:
            return
        yield rows
        last = rows[-1][column.key]


def _clicks(conn: Connection, progress: Callable[[int], None], only: Any) -> None:
    stmt = select(_CLICKS).where(
        only(_CLICKS.c.workspace_id),
        Click.device.is_(None),
        Click.is_bot.is_(False),
        Click.is_orphan.is_(False),
        Click.workspace_id.is_not(None),
    )
    fill = (
        update(_CLICKS)
        .where(_CLICKS.c.id == bindparam("click_id"))
        .values({column: bindparam(f"new_{column}") for _, column in CLICK_DIMENSIONS})
    )
    for rows in _chunks(conn, stmt, _CLICKS.c.id):
        ids = [row["id"] for row in rows]
        links = {
            row.id: row.utm or {}
            for row in conn.execute(
                select(Link.id, Link.utm).where(Link.id.in_({row["link_id"] for row in rows}))
            )
        }
        apps = {
            row.id: {"network": row.network, "campaign": row.campaign}
            for row in conn.execute(
                select(AppClick.id, AppClick.network, AppClick.campaign).where(AppClick.id.in_(ids))
            )
        }
        for row in rows:
            agent = agent_of(row["user_agent"] or "")
            utm = links.get(row["link_id"], {})
            row.update(
                country="",
                device=agent.device,
                os=agent.os,
                browser=agent.browser,
                referrer_host=referrer_of(row["referer"] or ""),
                utm_source=str(utm.get("source") or "")[:100],
                utm_campaign=str(utm.get("campaign") or "")[:100],
            )
        conn.execute(
            fill,
            [
                {"click_id": row["id"], **{f"new_{c}": row[c] for _, c in CLICK_DIMENSIONS}}
                for row in rows
            ],
        )
        write(conn, click_deltas(rows, [apps.get(row["id"]) for row in rows]))
        progress(len(rows))


def _groups(conn: Connection, click_ids: set[str]) -> dict[str, Groups]:
    """The stored groups of ``click_ids`` (app dimensions for clicks on app links)."""
    if not click_ids:
        return {}
    columns = [_CLICKS.c[column] for _, column in CLICK_DIMENSIONS]
    found: dict[str, Groups] = {}
    stmt = (
        select(
            _CLICKS.c.id, *columns, AppClick.id.label("app"), AppClick.network, AppClick.campaign
        )
        .outerjoin(AppClick, AppClick.id == _CLICKS.c.id)
        .where(_CLICKS.c.id.in_(click_ids))
    )
    for row in conn.execute(stmt).mappings():
        groups = {name: row[column] or "" for name, column in CLICK_DIMENSIONS}
        if row["app"] is not None:
            groups.update(app_groups(dict(row)))
        found[row["id"]] = groups
    return found


_UNKNOWN: Groups = {name: "" for name, _ in CLICK_DIMENSIONS}


def _referrals(conn: Connection, progress: Callable[[int], None], only: Any) -> None:
    stmt = select(
        Referral.id,
        Referral.workspace_id,
        Referral.livemode,
        Referral.program_id,
        Referral.attribution,
        Referral.created_at,
    ).where(only(Referral.workspace_id))
    for rows in _chunks(conn, stmt, Referral.id):
        clicks = {(r["attribution"] or {}).get("click_id") for r in rows}
        groups = _groups(conn, {click for click in clicks if click is not None})
        buffer = DimensionBuffer()
        for row in rows:
            attribution = row["attribution"] or {}
            buffer.add(
                workspace_id=row["workspace_id"],
                livemode=row["livemode"],
                day=row["created_at"].date(),
                program_id=row["program_id"],
                link_id=attribution.get("link_id"),
                groups=groups.get(attribution.get("click_id") or "", _UNKNOWN),
                signups=1,
            )
        write(conn, buffer)
        progress(len(rows))


def _events(conn: Connection, progress: Callable[[int], None], only: Any) -> None:
    stmt = select(
        Event.id,
        Event.workspace_id,
        Event.livemode,
        Event.type,
        Event.program_id,
        Event.link_id,
        Event.click_id,
        Event.amount,
        Event.currency,
        Event.occurred_at,
    ).where(
        only(Event.workspace_id),
        Event.type.in_(("purchase", "refund")),
        (Event.link_id.is_not(None)) | (Event.program_id.is_not(None)),
    )
    for rows in _chunks(conn, stmt, Event.id):
        groups = _groups(conn, {row["click_id"] for row in rows} - {None})
        buffer = DimensionBuffer()
        for row in rows:
            scope: dict[str, Any] = {
                "workspace_id": row["workspace_id"],
                "livemode": row["livemode"],
                "day": row["occurred_at"].date(),
                "program_id": row["program_id"],
                "link_id": row["link_id"],
                "groups": groups.get(row["click_id"], _UNKNOWN),
            }
            purchase = row["type"] == "purchase"
            if purchase:
                buffer.add(**scope, conversions=1)
            if row["amount"] and row["currency"]:
                sign = 1 if purchase else -1
                buffer.add(**scope, currency=row["currency"], revenue=sign * row["amount"])
        write(conn, buffer)
        progress(len(rows))


def backfill(
    conn: Connection,
    progress: Callable[[str, int], None] | None = None,
    *,
    workspace_id: str | None = None,
) -> None:
    """Count every stored click, referral and purchase (of one workspace, when given) in the
    dimension rollups. Run it once, on rollups that count none of them yet: clicks already
    given their groups are skipped, referrals and purchases are not."""

    def step(name: str) -> Callable[[int], None]:
        return lambda n: progress(name, n) if progress is not None else None

    def only(column: Any) -> Any:
        return column.is_not(None) if workspace_id is None else column == workspace_id

    _clicks(conn, step("clicks"), only)
    _referrals(conn, step("referrals"), only)
    _events(conn, step("events"), only)
