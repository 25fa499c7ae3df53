"""Tenant keys: workspace_id in every tenant table's primary key, unique constraints and
foreign keys between tenant tables (what a database sharded by workspace can enforce)

Three tables that had no workspace get it from their parent (webhook attempts from their
message, integration attempts from their forward, idempotency keys from their API key); a row
whose parent is gone is an orphan nothing can reach and is dropped. Every other row is kept.
See ``referkit.db.tenancy`` for which tables are which; ``clicks`` and ``events`` are keyed by
their own migration.

Revision ID: 0025_tenantkey
Revises: 0023_partitions
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "0025_tenantkey"
down_revision: str | None = "0023_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WS = "workspace_id"

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "programs": ("id",),
    "members": ("id",),
    "referrals": ("id",),
    "rewards": ("id",),
    "ledger_entries": ("id",),
    "coupons": ("id",),
    "customers": ("id",),
    "links": ("id",),
    "rollups": ("scope", "scope_id", "day", "currency"),
    "erasures": ("id",),
    "idempotency_keys": ("id",),
    "webhook_endpoints": ("id",),
    "webhook_messages": ("id",),
    "webhook_attempts": ("id",),
    "apps": ("id",),
    "app_clicks": ("id",),
    "app_devices": ("app_id", "device_hash"),
    "app_rollups": ("app_id", "dimension", "value", "day", "currency"),
    "app_integrations": ("id",),
    "integration_forwards": ("id",),
    "integration_attempts": ("id",),
    "skan_schemas": ("id",),
}
"""Each table's key before this revision; afterwards it is ``workspace_id`` followed by it."""

UNIQUES: dict[str, list[tuple[str, ...]]] = {
    "members": [("program_id", "email_key"), ("program_id", "external_id")],
    "referrals": [("program_id", "referee_email_key"), ("program_id", "referee_external_id")],
    "rewards": [("program_id", "dedupe_key")],
    "coupons": [("program_id", "pool", "code")],
    "app_integrations": [("app_id", "network")],
    "idempotency_keys": [("api_key_id", "key")],
    "skan_schemas": [("app_id", "version")],
}
"""Unique constraints that become per workspace (``workspace_id`` put first)."""

FOREIGN_KEYS: dict[str, list[tuple[str, str]]] = {
    "members": [("program_id", "programs")],
    "referrals": [("program_id", "programs"), ("member_id", "members")],
    "rewards": [("program_id", "programs"), ("member_id", "members"), ("referral_id", "referrals")],
    "ledger_entries": [("member_id", "members"), ("reward_id", "rewards")],
    "coupons": [("program_id", "programs")],
    "links": [("program_id", "programs"), ("member_id", "members")],
    "webhook_messages": [("endpoint_id", "webhook_endpoints")],
    "webhook_attempts": [("message_id", "webhook_messages")],
    "app_integrations": [("app_id", "apps")],
    "integration_forwards": [("integration_id", "app_integrations")],
    "integration_attempts": [("forward_id", "integration_forwards")],
}
"""Foreign keys between tenant tables (all ``ON DELETE CASCADE``), by column and parent."""

NEW_COLUMNS: dict[str, tuple[str, str]] = {
    "webhook_attempts": ("message_id", "webhook_messages"),
    "integration_attempts": ("forward_id", "integration_forwards"),
    "idempotency_keys": ("api_key_id", "api_keys"),
}
"""Tables that get ``workspace_id`` here, copied from the parent of the given column."""


def _fk_name(table: str, column: str, parent: str) -> str:
    return f"fk_{table}_{column}_{parent}"


def _uq_name(table: str, columns: Sequence[str]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _partitioned(table: str) -> bool:
    """A PostgreSQL table partitioned by month (0023_partitions): its key is already the
    tenant shape plus the partition column, and a partitioned table's key cannot drop it."""
    found = op.get_bind().execute(
        sa.text("SELECT 1 FROM pg_class WHERE relname = :name AND relkind = 'p'"),
        {"name": table},
    )
    return found.first() is not None


def _add_workspace_columns() -> None:
    for table, (column, parent) in NEW_COLUMNS.items():
        op.add_column(table, sa.Column(WS, sa.String(length=40), nullable=True))
        op.execute(
            f"UPDATE {table} SET {WS} = "  # noqa: S608 (names from the constants above)
            f"(SELECT p.{WS} FROM {parent} p WHERE p.id = {table}.{column})"
        )
        op.execute(f"DELETE FROM {table} WHERE {WS} IS NULL")  # noqa: S608


def _drop_foreign_keys(batch: BatchOperations, table: str) -> None:
    for column, parent in FOREIGN_KEYS.get(table, []):
        batch.drop_constraint(_fk_name(table, column, parent), type_="foreignkey")


def _create_foreign_keys(batch: BatchOperations, table: str, *, tenant: bool) -> None:
    for column, parent in FOREIGN_KEYS.get(table, []):
        local, remote = ([WS, column], [WS, "id"]) if tenant else ([column], ["id"])
        batch.create_foreign_key(
            _fk_name(table, column, parent), parent, local, remote, ondelete="CASCADE"
        )


def _rekey(batch: BatchOperations, table: str, *, tenant: bool) -> None:
    """Primary key and unique constraints, to the tenant shape or back."""
    old = PRIMARY_KEYS[table]
    batch.drop_constraint(f"pk_{table}", type_="primary")
    batch.create_primary_key(f"pk_{table}", [WS, *old] if tenant else list(old))
    for columns in UNIQUES.get(table, []):
        before, after = (columns, (WS, *columns)) if tenant else ((WS, *columns), columns)
        batch.drop_constraint(_uq_name(table, before), type_="unique")
        batch.create_unique_constraint(_uq_name(table, after), list(after))
    if tenant and table in NEW_COLUMNS:
        batch.alter_column(WS, existing_type=sa.String(length=40), nullable=False)


def _change(*, tenant: bool) -> None:
    if _sqlite():
        # One rebuild per table (foreign keys are off while migrating, so the order is free).
        for table in PRIMARY_KEYS:
            with op.batch_alter_table(table) as batch:
                _drop_foreign_keys(batch, table)
                _rekey(batch, table, tenant=tenant)
                _create_foreign_keys(batch, table, tenant=tenant)
        return
    # PostgreSQL: a key cannot change while a foreign key depends on it, so all foreign keys
    # go first and come back last.
    for table in FOREIGN_KEYS:
        with op.batch_alter_table(table) as batch:
            _drop_foreign_keys(batch, table)
    for table in PRIMARY_KEYS:
        if _partitioned(table):
            continue  # 0023_partitions keyed it (workspace_id, id, created_at) already
        with op.batch_alter_table(table) as batch:
            _rekey(batch, table, tenant=tenant)
    for table in FOREIGN_KEYS:
        with op.batch_alter_table(table) as batch:
            _create_foreign_keys(batch, table, tenant=tenant)


def upgrade() -> None:
    _add_workspace_columns()
    _change(tenant=True)


def downgrade() -> None:
    _change(tenant=False)
    for table in NEW_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(WS)
