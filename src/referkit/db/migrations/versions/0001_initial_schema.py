"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 01:33:08.986840
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import referkit.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("name", name=op.f("uq_workspaces_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("secret_hint", sa.String(length=32), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
        sa.Column("created_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", referkit.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", referkit.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_api_keys_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("public_key", name=op.f("uq_api_keys_public_key")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_keys_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "programs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("landing_url", sa.String(length=2048), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=True),
        sa.Column(
            "allowed_origins",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "attribution",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "qualification",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "reward_rules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "fraud",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_programs_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint(
            "workspace_id", "livemode", "slug", name=op.f("uq_programs_workspace_id_livemode_slug")
        ),
    )
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_programs_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "members",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("email_canonical", sa.String(length=320), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("referral_code", sa.String(length=40), nullable=False),
        sa.Column("code_key", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("deleted_at", referkit.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_members_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_members_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("code_key", name=op.f("uq_members_code_key")),
        sa.UniqueConstraint(
            "program_id", "email_key", name=op.f("uq_members_program_id_email_key")
        ),
        sa.UniqueConstraint(
            "program_id", "external_id", name=op.f("uq_members_program_id_external_id")
        ),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_members_program_id"), ["program_id"], unique=False)
        batch_op.create_index(
            "ix_members_workspace_id_livemode_id", ["workspace_id", "livemode", "id"], unique=False
        )

    op.create_table(
        "referrals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("referee_email", sa.String(length=320), nullable=True),
        sa.Column("referee_email_key", sa.String(length=320), nullable=True),
        sa.Column("referee_external_id", sa.String(length=200), nullable=True),
        sa.Column("referee_name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "attribution",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "fraud",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column(
            "status_history",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=1000), nullable=True),
        sa.Column("qualified_at", referkit.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_at", referkit.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("denied_at", referkit.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", referkit.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_referrals_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_referrals_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_referrals_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint(
            "program_id",
            "referee_email_key",
            name=op.f("uq_referrals_program_id_referee_email_key"),
        ),
        sa.UniqueConstraint(
            "program_id",
            "referee_external_id",
            name=op.f("uq_referrals_program_id_referee_external_id"),
        ),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referrals_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_referrals_program_id"), ["program_id"], unique=False)
        batch_op.create_index(
            "ix_referrals_workspace_id_livemode_id",
            ["workspace_id", "livemode", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_referrals_workspace_id_livemode_id")
        batch_op.drop_index(batch_op.f("ix_referrals_program_id"))
        batch_op.drop_index(batch_op.f("ix_referrals_member_id"))

    op.drop_table("referrals")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_workspace_id_livemode_id")
        batch_op.drop_index(batch_op.f("ix_members_program_id"))

    op.drop_table("members")
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_programs_workspace_id"))

    op.drop_table("programs")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_workspace_id"))

    op.drop_table("api_keys")
    op.drop_table("workspaces")
