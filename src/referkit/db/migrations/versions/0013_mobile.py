"""mobile attribution: apps, app clicks, devices, app rollups; app fields on links and keys

Revision ID: 0013_mobile
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import referkit.db.types

revision: str = "0013_mobile"
down_revision: str | None = "0011_embed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = referkit.db.types.UTCDateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _apps() -> None:
    op.create_table(
        "apps",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("platforms", _JSON, nullable=False),
        sa.Column("deep_link_scheme", sa.String(length=100), nullable=True),
        sa.Column("link_domain", sa.String(length=255), nullable=True),
        sa.Column("attribution", _JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_apps_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps")),
    )
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_apps_workspace_id_livemode_id", ["workspace_id", "livemode", "id"], unique=False
        )


def _app_clicks() -> None:
    op.create_table(
        "app_clicks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("link_id", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("network", sa.String(length=100), nullable=True),
        sa.Column("campaign", sa.String(length=200), nullable=True),
        sa.Column("adset", sa.String(length=200), nullable=True),
        sa.Column("ad", sa.String(length=200), nullable=True),
        sa.Column("ad_click_param", sa.String(length=16), nullable=True),
        sa.Column("ad_click_id", sa.String(length=512), nullable=True),
        sa.Column("utm", _JSON, nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=False),
        sa.Column("os", sa.String(length=20), nullable=True),
        sa.Column("os_version", sa.String(length=20), nullable=True),
        sa.Column("language", sa.String(length=20), nullable=True),
        sa.Column("install_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_clicks")),
    )
    with op.batch_alter_table("app_clicks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_app_clicks_app_id_ip_hash_created_at",
            ["app_id", "ip_hash", "created_at"],
            unique=False,
        )


def _app_devices() -> None:
    op.create_table(
        "app_devices",
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("device_hash", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("first_install_id", sa.String(length=40), nullable=False),
        sa.Column("last_install_id", sa.String(length=40), nullable=False),
        sa.Column("installs", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "device_hash", name=op.f("pk_app_devices")),
    )


def _app_rollups() -> None:
    op.create_table(
        "app_rollups",
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("dimension", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in (
                "clicks",
                "installs",
                "reinstalls",
                "opens",
                "events",
                "conversions",
                "revenue",
            )
        ),
        sa.PrimaryKeyConstraint(
            "app_id", "dimension", "value", "day", "currency", name=op.f("pk_app_rollups")
        ),
    )
    with op.batch_alter_table("app_rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_app_rollups_app_id_dimension_day", ["app_id", "dimension", "day"], unique=False
        )
        batch_op.create_index(
            "ix_app_rollups_workspace_id_livemode_dimension_day",
            ["workspace_id", "livemode", "dimension", "day"],
            unique=False,
        )


def upgrade() -> None:
    _apps()
    _app_clicks()
    _app_devices()
    _app_rollups()
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deep_link_path", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("deep_link_params", _JSON, nullable=True))
        batch_op.add_column(sa.Column("network", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("campaign", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("adset", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("ad", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("og", _JSON, nullable=True))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("app_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("app_id")
    with op.batch_alter_table("links", schema=None) as batch_op:
        for name in ("og", "ad", "adset", "campaign", "network", "deep_link_params"):
            batch_op.drop_column(name)
        batch_op.drop_column("deep_link_path")
    op.drop_table("app_rollups")
    op.drop_table("app_devices")
    op.drop_table("app_clicks")
    op.drop_table("apps")
