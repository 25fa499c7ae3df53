"""links, clicks, events, customers and rollups

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import referkit.db.types
from referkit.kit.ids import new_id

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _default_links() -> None:
    """Every existing member gets its default link (code = its referral code)."""
    bind = op.get_bind()
    members = bind.execute(
        sa.text(
            "SELECT id, workspace_id, livemode, program_id, referral_code, code_key, created_at, "
            "deleted_at FROM members"
        )
    ).all()
    for m in members:
        bind.execute(
            sa.text(
                "INSERT INTO links (id, workspace_id, livemode, code, code_key, program_id, "
                "member_id, is_default, utm, archived_at, created_at, updated_at) VALUES "
                "(:id, :ws, :live, :code, :key, :prog, :mem, :default, :utm, :archived, "
                ":created, :created)"
            ),
            {
                "id": new_id("lnk"),
                "ws": m.workspace_id,
                "live": m.livemode,
                "code": m.referral_code,
                "key": m.code_key,
                "prog": m.program_id,
                "mem": m.id,
                "default": True,
                "utm": "{}",
                "archived": m.deleted_at,
                "created": m.created_at,
            },
        )


def upgrade() -> None:
    op.create_table(
        "reach_marks",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_reach_marks")),
    )
    op.create_table(
        "rollups",
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("scope_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=True),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("bot_clicks", sa.BigInteger(), nullable=False),
        sa.Column("reach", sa.BigInteger(), nullable=False),
        sa.Column("installs", sa.BigInteger(), nullable=False),
        sa.Column("signups", sa.BigInteger(), nullable=False),
        sa.Column("referrals", sa.BigInteger(), nullable=False),
        sa.Column("qualified", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.BigInteger(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "scope_id", "day", "currency", name=op.f("pk_rollups")),
    )
    with op.batch_alter_table("rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rollups_program_id_scope_day", ["program_id", "scope", "day"], unique=False
        )

    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("created_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_customers_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "workspace_id",
            "livemode",
            "email_key",
            name=op.f("uq_customers_workspace_id_livemode_email_key"),
        ),
        sa.UniqueConstraint(
            "workspace_id",
            "livemode",
            "external_id",
            name=op.f("uq_customers_workspace_id_livemode_external_id"),
        ),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=True),
        sa.Column("program_id", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("click_id", sa.String(length=40), nullable=True),
        sa.Column("link_id", sa.String(length=40), nullable=True),
        sa.Column("member_id", sa.String(length=40), nullable=True),
        sa.Column("referral_id", sa.String(length=40), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("refunded_event_id", sa.String(length=200), nullable=True),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "attribution",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "outcome",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=1000), nullable=True),
        sa.Column("created_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_events_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint(
            "workspace_id",
            "livemode",
            "event_id",
            name=op.f("uq_events_workspace_id_livemode_event_id"),
        ),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_workspace_id_livemode_id", ["workspace_id", "livemode", "id"], unique=False
        )

    op.create_table(
        "links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("code_key", sa.String(length=40), nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=True),
        sa.Column("member_id", sa.String(length=40), nullable=True),
        sa.Column("app_id", sa.String(length=40), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("destination_url", sa.String(length=2048), nullable=True),
        sa.Column("ios_url", sa.String(length=2048), nullable=True),
        sa.Column("android_url", sa.String(length=2048), nullable=True),
        sa.Column(
            "utm",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("expires_at", referkit.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("archived_at", referkit.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_links_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_links_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_links_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint("code_key", name=op.f("uq_links_code_key")),
    )
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_links_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_links_program_id"), ["program_id"], unique=False)
        batch_op.create_index(
            "ix_links_workspace_id_livemode_id", ["workspace_id", "livemode", "id"], unique=False
        )

    op.create_table(
        "clicks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=True),
        sa.Column("link_id", sa.String(length=40), nullable=True),
        sa.Column("program_id", sa.String(length=40), nullable=True),
        sa.Column("member_id", sa.String(length=40), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("visitor_id", sa.String(length=64), nullable=True),
        sa.Column("visitor_hash", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("is_orphan", sa.Boolean(), nullable=False),
        sa.Column("is_unique", sa.Boolean(), nullable=False),
        sa.Column("user_agent", sa.String(length=1000), nullable=True),
        sa.Column("referer", sa.String(length=2048), nullable=True),
        sa.Column("destination_url", sa.String(length=4096), nullable=True),
        sa.Column("created_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"], ["links.id"], name=op.f("fk_clicks_link_id_links"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_clicks_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clicks")),
    )
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_clicks_link_id_created_at", ["link_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_clicks_visitor_id_created_at", ["visitor_id", "created_at"], unique=False
        )
    _default_links()


def downgrade() -> None:
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_index("ix_clicks_visitor_id_created_at")
        batch_op.drop_index("ix_clicks_link_id_created_at")

    op.drop_table("clicks")
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index("ix_links_workspace_id_livemode_id")
        batch_op.drop_index(batch_op.f("ix_links_program_id"))
        batch_op.drop_index(batch_op.f("ix_links_member_id"))

    op.drop_table("links")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_workspace_id_livemode_id")

    op.drop_table("events")
    op.drop_table("customers")
    with op.batch_alter_table("rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_rollups_program_id_scope_day")

    op.drop_table("rollups")
    op.drop_table("reach_marks")
