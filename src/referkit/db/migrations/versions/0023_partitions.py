"""clicks, events and app_clicks partitioned by month on PostgreSQL (SQLite unchanged)

Each table is rebuilt as ``PARTITION BY RANGE (created_at)`` with the primary key
``(workspace_id, id, created_at)``, one partition per month from its oldest row to
``PREMAKE_MONTHS`` ahead plus a default partition, and its rows copied over. A partitioned
table cannot hold a unique index without the partition column, so events' idempotency on
``(workspace_id, livemode, event_id)`` moves to ``event_keys``, filled by a trigger that skips
the row of an id stored before (what ``ON CONFLICT DO NOTHING`` did). Orphan clicks (unknown
codes) get the workspace ``''``: a key column cannot be NULL.

The copy runs in the migration's transaction and holds the tables meanwhile: for a large
database, plan the upgrade in a maintenance window (docs/scaling.md).

Revision ID: 0023_partitions
Revises: 0022_breakdown
Create Date: 2026-12-06
"""

# ruff: noqa: S608  (SQL is built from table names in PARTITIONED and computed months only)

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

from referkit.db.partitions import PARTITIONED, PREMAKE_MONTHS, add_months, month_start

revision: str = "0023_partitions"
down_revision: str | None = "0022_breakdown"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_TRIGGER = """
CREATE FUNCTION referkit_claim_event_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_keys (workspace_id, livemode, event_id, id, created_at)
    VALUES (NEW.workspace_id, NEW.livemode, NEW.event_id, NEW.id, NEW.created_at)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RETURN NEW;
    END IF;
    RETURN NULL;  -- this event id is stored already: skip the row
END $$
"""


def _index_defs(table: str, keep_out: tuple[str, ...]) -> list[tuple[str, str]]:
    rows = op.get_bind().execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' AND tablename = :table ORDER BY indexname"
        ),
        {"table": table},
    )
    return [(name, sql) for name, sql in rows if name not in keep_out]


def _partition(table: str) -> None:
    bind = op.get_bind()
    indexes = _index_defs(table, (f"pk_{table}", f"uq_{table}_workspace_id_livemode_event_id"))
    old = f"{table}_unpartitioned"
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} DROP CONSTRAINT pk_{table}")
    if table == "events":
        op.execute(f"ALTER TABLE {old} DROP CONSTRAINT uq_events_workspace_id_livemode_event_id")
    for name, _ in indexes:
        op.execute(f"DROP INDEX {name}")
    if table == "clicks":
        op.execute(f"UPDATE {old} SET workspace_id = '' WHERE workspace_id IS NULL")
    op.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE (created_at)"
    )
    op.execute(f"ALTER TABLE {table} ALTER COLUMN workspace_id SET NOT NULL")
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (workspace_id, id, created_at)"
    )
    op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    oldest = bind.execute(text(f"SELECT min(created_at) FROM {old}")).scalar()
    this_month = month_start(datetime.now(UTC))
    month = month_start(oldest) if oldest is not None else this_month
    month = min(month, this_month)
    while month <= add_months(this_month, PREMAKE_MONTHS):
        following = add_months(month, 1)
        op.execute(
            f"CREATE TABLE {table}_p{month.year:04d}_{month.month:02d} PARTITION OF {table} "
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{following.isoformat()}')"
        )
        month = following
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    # After the copy: the trigger would skip every row whose key the fill below claimed.
    if table == "events":
        op.execute(
            "CREATE TABLE event_keys (workspace_id varchar(40) NOT NULL, livemode boolean NOT NULL,"
            " event_id varchar(200) NOT NULL, id varchar(40) NOT NULL,"
            " created_at timestamptz NOT NULL,"
            " CONSTRAINT pk_event_keys PRIMARY KEY (workspace_id, livemode, event_id))"
        )
        op.execute("CREATE INDEX ix_event_keys_created_at ON event_keys (created_at)")
        op.execute(
            "INSERT INTO event_keys SELECT workspace_id, livemode, event_id, id, created_at "
            f"FROM {old}"
        )
        op.execute(KEY_TRIGGER)
        op.execute(
            "CREATE TRIGGER events_claim_event_key BEFORE INSERT ON events "
            "FOR EACH ROW EXECUTE FUNCTION referkit_claim_event_key()"
        )
    op.execute(f"DROP TABLE {old}")
    for _, sql in indexes:
        op.execute(sql)
    op.execute(f"ANALYZE {table}")


def _unpartition(table: str) -> None:
    indexes = _index_defs(table, (f"pk_{table}",))
    old = f"{table}_partitioned"
    if table == "events":
        op.execute("DROP TRIGGER events_claim_event_key ON events")
        op.execute("DROP FUNCTION referkit_claim_event_key()")
        op.execute("DROP TABLE event_keys")
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} DROP CONSTRAINT pk_{table}")
    for name, _ in indexes:
        op.execute(f"DROP INDEX {name}")
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS)")
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    op.execute(f"DROP TABLE {old} CASCADE")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id)")
    if table == "clicks":
        op.execute("ALTER TABLE clicks ALTER COLUMN workspace_id DROP NOT NULL")
        op.execute("UPDATE clicks SET workspace_id = NULL WHERE workspace_id = ''")
    if table == "events":
        op.execute(
            "ALTER TABLE events ADD CONSTRAINT uq_events_workspace_id_livemode_event_id "
            "UNIQUE (workspace_id, livemode, event_id)"
        )
    for _, sql in indexes:
        op.execute(sql)
    # pg_partman, if it managed the table, forgets it.
    partman = (
        op.get_bind()
        .execute(
            text(
                "SELECT n.nspname FROM pg_extension e "
                "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman'"
            )
        )
        .scalar()
    )
    if partman is not None:
        op.execute(
            text(f"DELETE FROM {partman}.part_config WHERE parent_table = :parent").bindparams(
                parent=f"public.{table}"
            )
        )
        op.execute(f"DROP TABLE IF EXISTS {partman}.template_public_{table}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in PARTITIONED:
        _partition(table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in PARTITIONED:
        _unpartition(table)
