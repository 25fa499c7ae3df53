"""retention setting on workspaces; the erasures log

A workspace may keep raw click and event detail for a number of days (``raw_detail_days``);
``detail_purged_before`` is how far the worker's purge has got. ``erasures`` records each
erasure of a person's data (who asked, when, how many rows of each kind), never the data.

Revision ID: 0015_privacy
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import referkit.db.types

revision: str = "0015_privacy"
down_revision: str | None = "0013_mobile"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("raw_detail_days", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column(
                "detail_purged_before",
                referkit.db.types.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
    op.create_table(
        "erasures",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_erasures_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(
        "ix_erasures_workspace_id_livemode_id",
        "erasures",
        ["workspace_id", "livemode", "id"],
    )
    op.create_index("ix_erasures_subject_id", "erasures", ["subject_id"])


def downgrade() -> None:
    op.drop_index("ix_erasures_subject_id", table_name="erasures")
    op.drop_index("ix_erasures_workspace_id_livemode_id", table_name="erasures")
    op.drop_table("erasures")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("detail_purged_before")
        batch.drop_column("raw_detail_days")
