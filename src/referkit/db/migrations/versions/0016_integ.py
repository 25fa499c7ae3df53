"""ad-network integrations: settings per app and network, the forward outbox, its attempts

Revision ID: 0016_integ
Revises: 0013_mobile
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import referkit.db.types

revision: str = "0016_integ"
down_revision: str | None = "0015_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = referkit.db.types.UTCDateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _integrations() -> None:
    op.create_table(
        "app_integrations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("send", sa.String(length=20), nullable=False),
        sa.Column("event_map", _JSON, nullable=False),
        sa.Column("config", _JSON, nullable=False),
        sa.Column("credentials", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_app_integrations_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_app_integrations_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_integrations")),
        sa.UniqueConstraint("app_id", "network", name=op.f("uq_app_integrations_app_id_network")),
    )


def _forwards() -> None:
    op.create_table(
        "integration_forwards",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("integration_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event_name", sa.String(length=200), nullable=False),
        sa.Column("facts", _JSON, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        sa.Column("first_attempt_at", _TIME, nullable=True),
        sa.Column("last_attempt_at", _TIME, nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["app_integrations.id"],
            name=op.f("fk_integration_forwards_integration_id_app_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_forwards")),
    )
    with op.batch_alter_table("integration_forwards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_integration_forwards_status_next_attempt_at",
            ["status", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_integration_forwards_integration_id_id", ["integration_id", "id"], unique=False
        )


def _attempts() -> None:
    op.create_table(
        "integration_attempts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("forward_id", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", _TIME, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("request", _JSON, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["forward_id"],
            ["integration_forwards.id"],
            name=op.f("fk_integration_attempts_forward_id_integration_forwards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_attempts")),
    )
    with op.batch_alter_table("integration_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_integration_attempts_forward_id", ["forward_id"], unique=False)


def upgrade() -> None:
    _integrations()
    _forwards()
    _attempts()


def downgrade() -> None:
    op.drop_table("integration_attempts")
    op.drop_table("integration_forwards")
    op.drop_table("app_integrations")
