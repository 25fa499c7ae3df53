"""clicks and events without foreign keys; no link index on clicks

The two append-only tables of the hot paths are written by the group-commit batchers, with
tenant ids taken from the link cache or the authenticated key, never from the request. Their
foreign keys cost a parent lookup (PostgreSQL: a trigger) for every row inserted, and
``ix_clicks_link_id_created_at`` served no query. Test data is deleted table by table; the
clicks of a deleted program's links stay, and attribution no longer counts them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_constraint("fk_clicks_link_id_links", type_="foreignkey")
        batch_op.drop_constraint("fk_clicks_workspace_id_workspaces", type_="foreignkey")
        batch_op.drop_index("ix_clicks_link_id_created_at")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("fk_events_workspace_id_workspaces", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_events_workspace_id_workspaces",
            "workspaces",
            ["workspace_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.create_index("ix_clicks_link_id_created_at", ["link_id", "created_at"])
        batch_op.create_foreign_key(
            "fk_clicks_workspace_id_workspaces",
            "workspaces",
            ["workspace_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            "fk_clicks_link_id_links", "links", ["link_id"], ["id"], ondelete="CASCADE"
        )
