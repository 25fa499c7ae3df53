"""referrer device fingerprints for the same-device fraud check; index for held rewards

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ip", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("visitor_id", sa.String(length=64), nullable=True))

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visitor_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_events_customer_id_id", ["customer_id", "id"], unique=False)

    with op.batch_alter_table("rewards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rewards_program_id_held_reason", ["program_id", "held_reason"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rewards", schema=None) as batch_op:
        batch_op.drop_index("ix_rewards_program_id_held_reason")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_customer_id_id")
        batch_op.drop_column("visitor_id")

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("visitor_id")
        batch_op.drop_column("ip")
