"""Alembic environment: always runs over the connection ``referkit.db.migrate`` provides."""

from __future__ import annotations

from alembic import context

import referkit.models  # noqa: F401  (registers every table on the metadata)
from referkit.db.base import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `referkit db upgrade` (referkit.db.migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
