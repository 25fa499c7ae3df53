"""SKAdNetwork / AdAttributionKit: conversion-value schema versions and postbacks

Revision ID: 0017_skan
Revises: 0013_mobile
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import referkit.db.types

revision: str = "0017_skan"
down_revision: str | None = "0016_integ"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = referkit.db.types.UTCDateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "skan_schemas",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", _JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skan_schemas")),
        sa.UniqueConstraint("app_id", "version", name=op.f("uq_skan_schemas_app_id_version")),
    )
    op.create_table(
        "skan_postbacks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=True),
        sa.Column("app_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("version", sa.String(length=10), nullable=False),
        sa.Column("transaction_id", sa.String(length=100), nullable=False),
        sa.Column("store_app_id", sa.String(length=20), nullable=True),
        sa.Column("ad_network_id", sa.String(length=200), nullable=True),
        sa.Column("source_identifier", sa.String(length=20), nullable=True),
        sa.Column("source_app_id", sa.String(length=20), nullable=True),
        sa.Column("source_domain", sa.String(length=255), nullable=True),
        sa.Column("redownload", sa.Boolean(), nullable=True),
        sa.Column("fidelity_type", sa.Integer(), nullable=True),
        sa.Column("did_win", sa.Boolean(), nullable=True),
        sa.Column("sequence_index", sa.Integer(), nullable=False),
        sa.Column("fine_value", sa.Integer(), nullable=True),
        sa.Column("coarse_value", sa.String(length=10), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verification", sa.String(length=200), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=True),
        sa.Column("decoded", _JSON, nullable=True),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skan_postbacks")),
        sa.UniqueConstraint(
            "transaction_id", "verified", name=op.f("uq_skan_postbacks_transaction_id_verified")
        ),
    )
    op.create_index(
        "ix_skan_postbacks_app_id_received_at",
        "skan_postbacks",
        ["app_id", "received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_skan_postbacks_app_id_received_at", table_name="skan_postbacks")
    op.drop_table("skan_postbacks")
    op.drop_table("skan_schemas")
