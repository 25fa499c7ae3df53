"""Breakdowns: the groups of each click, per-day dimension rollups, and their backfill

Revision ID: 0022_breakdown
Revises: 0020_dashrollup
Create Date: 2026-12-06
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_breakdown"
down_revision: str | None = "0020_dashrollup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GROUPS = (
    ("country", 2),
    ("device", 10),
    ("os", 100),
    ("browser", 100),
    ("referrer_host", 100),
    ("utm_source", 100),
    ("utm_campaign", 100),
)
logger = logging.getLogger("referkit.migrations")


def upgrade() -> None:
    with op.batch_alter_table("clicks") as batch:
        for name, length in _GROUPS:
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    op.create_table(
        "dimension_rollups",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("scope_id", sa.String(length=40), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("reach", sa.BigInteger(), nullable=False),
        sa.Column("signups", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.BigInteger(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace_id",
            "scope",
            "scope_id",
            "dimension",
            "day",
            "value",
            "currency",
            name=op.f("pk_dimension_rollups"),
        ),
    )
    # Past clicks, referrals and purchases, counted by the code that counts new ones.
    from referkit.stats.backfill import backfill

    done: dict[str, int] = {}

    def progress(kind: str, n: int) -> None:
        done[kind] = done.get(kind, 0) + n
        if done[kind] % 100_000 < n:
            logger.info("breakdowns backfill: %d %s counted", done[kind], kind)

    backfill(op.get_bind(), progress)


def downgrade() -> None:
    op.drop_table("dimension_rollups")
    with op.batch_alter_table("clicks") as batch:
        for name, _ in reversed(_GROUPS):
            batch.drop_column(name)
