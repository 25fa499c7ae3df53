"""index events by customer only where there is one

Most events arrive without a customer (installs, opens, anonymous purchases); the index the
same-device fraud check reads (``customer_id = ?``, newest first) now holds only the events
that have one, so the others cost one index insert less.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HAS_CUSTOMER = sa.text("customer_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_events_customer_id_id", table_name="events")
    op.create_index(
        "ix_events_customer_id_id",
        "events",
        ["customer_id", "id"],
        postgresql_where=_HAS_CUSTOMER,
        sqlite_where=_HAS_CUSTOMER,
    )


def downgrade() -> None:
    op.drop_index("ix_events_customer_id_id", table_name="events")
    op.create_index("ix_events_customer_id_id", "events", ["customer_id", "id"])
