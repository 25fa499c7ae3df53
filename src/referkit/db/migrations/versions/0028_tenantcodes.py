"""the last tenant tables keyed by workspace

- ``clicks`` and ``events`` on SQLite: primary key ``(workspace_id, id)`` as every tenant table
  (PostgreSQL keyed them ``(workspace_id, id, created_at)`` when 0023 partitioned them), and
  orphan clicks of unknown codes get the workspace ``''`` there too, as on PostgreSQL.

Revision ID: 0028_tenantcodes
Revises: 0026_heldindex
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_tenantcodes"
down_revision: str | None = "0026_heldindex"
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


def upgrade() -> None:
    _key_clicks_and_events(tenant=True)


def downgrade() -> None:
    _key_clicks_and_events(tenant=False)
