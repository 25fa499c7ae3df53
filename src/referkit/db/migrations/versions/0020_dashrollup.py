"""reward rollups: per program, creation day and unit, rewards by status, backfilled

Revision ID: 0020_dashrollup
Revises: 0017_skan
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_dashrollup"
down_revision: str | None = "0017_skan"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = ("pending", "issued", "cancelled", "reversed")
_COUNTERS = [f"{status}_{what}" for status in _STATUSES for what in ("count", "amount")]


def upgrade() -> None:
    op.create_table(
        "reward_rollups",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _COUNTERS),
        sa.PrimaryKeyConstraint(
            "workspace_id", "program_id", "day", "unit", name=op.f("pk_reward_rollups")
        ),
    )
    # Every reward stored so far, counted on its UTC creation day under its current status
    # (what the reward service keeps up to date from now on). The unit is the service's:
    # the currency, else "points" for points, else the kind.
    if op.get_bind().dialect.name == "sqlite":
        day = "substr(created_at, 1, 10)"  # UTC text
    else:
        day = "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    unit = "COALESCE(currency, CASE WHEN kind = 'points' THEN 'points' ELSE kind END)"
    sums = ", ".join(
        f"SUM(CASE WHEN status = '{status}' THEN {value} ELSE 0 END)"
        for status in _STATUSES
        for value in ("1", "COALESCE(amount, 0)")
    )
    op.execute(
        sa.text(
            "INSERT INTO reward_rollups (workspace_id, program_id, day, unit, livemode, "  # noqa: S608
            f"{', '.join(_COUNTERS)}) "
            f"SELECT workspace_id, program_id, {day}, {unit}, livemode, {sums} FROM rewards "
            f"GROUP BY workspace_id, program_id, {day}, {unit}, livemode"
        )
    )


def downgrade() -> None:
    op.drop_table("reward_rollups")
