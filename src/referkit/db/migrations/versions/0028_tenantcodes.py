"""the last tenant tables keyed by workspace

- ``clicks`` and ``events`` on SQLite: primary key ``(workspace_id, id)`` as every tenant table
  (PostgreSQL keyed them ``(workspace_id, id, created_at)`` when 0023 partitioned them), and
  orphan clicks of unknown codes get the workspace ``''`` there too, as on PostgreSQL.
- ``reach_marks`` gets ``workspace_id`` in its key ``(key, workspace_id)``. Marks matter only
  for the current and previous hour and their keys are hashes nothing can be read back from,
  so the table is rebuilt and filled again from what made them: the reach clicks
  (``is_unique``) of those two hours, whose link gives the workspace. (The hash is the click
  batcher's ``reach_key``, written out here so this revision never changes with the code.)
- ``skan_postbacks``: keyed ``(workspace_id, id)``, one verified row per transaction in a
  workspace. Postbacks that matched no app (``workspace_id`` NULL) get ``''``.
- ``codes``, a reference table: the one namespace of ``/r/{code}`` codes, each with the
  workspace it is in, filled from the members (their referral codes, shared by their default
  links) and then from the links with a code of their own. ``links.code_key`` and
  ``members.code_key`` become unique per workspace.

Revision ID: 0028_tenantcodes
Revises: 0027_rollupfill
Create Date: 2026-12-06
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from referkit.db.types import UTCDateTime

revision: str = "0028_tenantcodes"
down_revision: str | None = "0027_rollupfill"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WS = "workspace_id"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _key_clicks_and_events(*, tenant: bool) -> None:
    """SQLite only: PostgreSQL's partitioned tables carry the tenant key since 0023."""
    if not _sqlite():
        return
    if tenant:
        op.execute("UPDATE clicks SET workspace_id = '' WHERE workspace_id IS NULL")
    for table in ("clicks", "events"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", [WS, "id"] if tenant else ["id"])
            if table == "clicks":
                batch.alter_column(WS, existing_type=sa.String(length=40), nullable=not tenant)
    if not tenant:
        op.execute("UPDATE clicks SET workspace_id = NULL WHERE workspace_id = ''")


def _reach_key(visitor_hash: str, link_id: str, at: datetime) -> str:
    digest = hashlib.blake2b(f"{visitor_hash}|{link_id}".encode(), digest_size=16).hexdigest()
    return f"{int(at.timestamp()) // 3600:08d}:{digest}"


def _marks_table(*, tenant: bool) -> None:
    columns = [sa.Column("key", sa.String(length=64), nullable=False)]
    if tenant:
        columns.append(sa.Column(WS, sa.String(length=40), nullable=False))
    op.create_table(
        "reach_marks",
        *columns,
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", WS, name="pk_reach_marks")
        if tenant
        else sa.PrimaryKeyConstraint("key", name="pk_reach_marks"),
    )


def _key_reach_marks() -> None:
    op.drop_table("reach_marks")
    _marks_table(tenant=True)
    now = datetime.now(UTC)
    since = datetime.fromtimestamp((int(now.timestamp()) // 3600 - 1) * 3600, UTC)
    clicks = sa.table(
        "clicks",
        sa.column(WS, sa.String()),
        sa.column("link_id", sa.String()),
        sa.column("visitor_hash", sa.String()),
        sa.column("is_unique", sa.Boolean()),
        sa.column("created_at", UTCDateTime()),
    )
    rows = op.get_bind().execute(
        sa.select(clicks.c[WS], clicks.c.link_id, clicks.c.visitor_hash, clicks.c.created_at)
        .where(clicks.c.created_at >= since, clicks.c.is_unique.is_(True))
        .where(clicks.c.link_id.is_not(None), clicks.c[WS] != "")
    )
    marks: dict[tuple[str, str], datetime] = {}
    for workspace_id, link_id, visitor_hash, created_at in rows:
        key = (_reach_key(visitor_hash, link_id, created_at), workspace_id)
        marks[key] = min(marks.get(key, created_at), created_at)
    if marks:
        table = sa.table(
            "reach_marks",
            sa.column("key", sa.String()),
            sa.column(WS, sa.String()),
            sa.column("created_at", UTCDateTime()),
        )
        op.bulk_insert(
            table,  # type: ignore[arg-type]
            [{"key": k, WS: w, "created_at": at} for (k, w), at in marks.items()],
        )


def _unkey_reach_marks() -> None:
    table = sa.table(
        "reach_marks", sa.column("key", sa.String()), sa.column("created_at", UTCDateTime())
    )
    first = sa.func.min(table.c.created_at, type_=UTCDateTime())
    rows = list(op.get_bind().execute(sa.select(table.c.key, first).group_by(table.c.key)))
    op.drop_table("reach_marks")
    _marks_table(tenant=False)
    if rows:
        op.bulk_insert(table, [{"key": k, "created_at": at} for k, at in rows])  # type: ignore[arg-type]


def _key_skan_postbacks(*, tenant: bool) -> None:
    old_index = ("app_id", "received_at")
    new_index = (WS, "app_id", "received_at")
    old_unique = ("transaction_id", "verified")
    new_unique = (WS, "transaction_id", "verified")
    if tenant:
        op.execute("UPDATE skan_postbacks SET workspace_id = '' WHERE workspace_id IS NULL")
    before, after = (old_index, new_index) if tenant else (new_index, old_index)
    op.drop_index(f"ix_skan_postbacks_{'_'.join(before)}", table_name="skan_postbacks")
    with op.batch_alter_table("skan_postbacks") as batch:
        batch.drop_constraint("pk_skan_postbacks", type_="primary")
        batch.create_primary_key("pk_skan_postbacks", [WS, "id"] if tenant else ["id"])
        gone, made = (old_unique, new_unique) if tenant else (new_unique, old_unique)
        batch.drop_constraint(f"uq_skan_postbacks_{'_'.join(gone)}", type_="unique")
        batch.create_unique_constraint(f"uq_skan_postbacks_{'_'.join(made)}", list(made))
        batch.alter_column(WS, existing_type=sa.String(length=40), nullable=not tenant)
    op.create_index(f"ix_skan_postbacks_{'_'.join(after)}", "skan_postbacks", list(after))
    if not tenant:
        op.execute("UPDATE skan_postbacks SET workspace_id = NULL WHERE workspace_id = ''")


def _codes() -> None:
    op.create_table(
        "codes",
        sa.Column("code_key", sa.String(length=40), nullable=False),
        sa.Column(WS, sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            [WS], ["workspaces.id"], name="fk_codes_workspace_id_workspaces", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("code_key", name="pk_codes"),
    )
    op.create_index("ix_codes_workspace_id", "codes", [WS])
    # Members first: a referral code is the member's, and its default links share it.
    op.execute(
        "INSERT INTO codes (code_key, workspace_id, livemode, kind, owner_id, created_at) "
        "SELECT code_key, workspace_id, livemode, 'member', id, created_at FROM members"
    )
    op.execute(
        "INSERT INTO codes (code_key, workspace_id, livemode, kind, owner_id, created_at) "
        "SELECT code_key, workspace_id, livemode, 'link', id, created_at FROM links "
        "WHERE NOT EXISTS (SELECT 1 FROM codes c WHERE c.code_key = links.code_key)"
    )


def _codes_per_workspace(*, tenant: bool) -> None:
    for table in ("links", "members"):
        gone, made = (
            (("code_key",), (WS, "code_key")) if tenant else ((WS, "code_key"), ("code_key",))
        )
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_{'_'.join(gone)}", type_="unique")
            batch.create_unique_constraint(f"uq_{table}_{'_'.join(made)}", list(made))


def upgrade() -> None:
    _key_clicks_and_events(tenant=True)
    _key_reach_marks()
    _key_skan_postbacks(tenant=True)
    _codes()
    _codes_per_workspace(tenant=True)


def downgrade() -> None:
    # Codes were unique across the installation all along (``codes``' key), so the old
    # constraints hold again.
    _codes_per_workspace(tenant=False)
    op.drop_index("ix_codes_workspace_id", table_name="codes")
    op.drop_table("codes")
    _key_skan_postbacks(tenant=False)
    _unkey_reach_marks()
    _key_clicks_and_events(tenant=False)
