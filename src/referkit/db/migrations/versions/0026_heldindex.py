"""index only the held rewards, by workspace and program

With workspace_id in every query, a planner that has statistics (SQLite after ANALYZE) read a
program's held rewards through the (workspace, program, dedupe key) unique index, i.e. every
reward of the program: the program page took 170 ms at 100,000 rewards. A partial index of the
held rewards alone is a few rows and always the better choice.

Revision ID: 0026_heldindex
Revises: 0025_tenantkey
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_heldindex"
down_revision: str | None = "0025_tenantkey"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HELD = sa.text("held_reason IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_rewards_program_id_held_reason", table_name="rewards")
    op.create_index(
        "ix_rewards_held",
        "rewards",
        ["workspace_id", "program_id", "held_reason"],
        postgresql_where=_HELD,
        sqlite_where=_HELD,
    )


def downgrade() -> None:
    op.drop_index("ix_rewards_held", table_name="rewards")
    op.create_index("ix_rewards_program_id_held_reason", "rewards", ["program_id", "held_reason"])
