"""per-member month and all-time rollup buckets for the leaderboard

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTERS = (
    "clicks, bot_clicks, reach, installs, signups, referrals, qualified, conversions, revenue"
)
_SUMS = ", ".join(f"SUM({name.strip()})" for name in _COUNTERS.split(","))


def _backfill(scope: str, bucket: str, grouped: str) -> None:
    # Existing per-day member rows, summed into the new buckets (same columns on both databases).
    op.execute(
        sa.text(
            "INSERT INTO rollups (scope, scope_id, day, currency, workspace_id, livemode, "  # noqa: S608
            f"program_id, {_COUNTERS}) "
            f"SELECT '{scope}', scope_id, {bucket}, currency, workspace_id, livemode, program_id, "
            f"{_SUMS} FROM rollups WHERE scope = 'member' "
            f"GROUP BY scope_id, {grouped}currency, workspace_id, livemode, program_id"
        )
    )


def upgrade() -> None:
    _backfill("mem_month", "substr(day, 1, 7)", "substr(day, 1, 7), ")
    _backfill("mem_all", "'all'", "")
    with op.batch_alter_table("rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rollups_leaderboard",
            ["program_id", "scope", "day", "currency", "qualified", "referrals", "reach"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_rollups_leaderboard")
    op.execute(sa.text("DELETE FROM rollups WHERE scope IN ('mem_month', 'mem_all')"))
