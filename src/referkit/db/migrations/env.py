"""Alembic environment: always runs over the connection ``referkit.db.migrate`` provides."""

from __future__ import annotations

from typing import Any

from alembic import context

import referkit.models  # noqa: F401  (registers every table on the metadata)
from referkit.db.base import Base
from referkit.db.partitions import drift_skips

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `referkit db upgrade` (referkit.db.migrate)")


def include_object(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    if connection is None or connection.dialect.name != "postgresql":
        return True
    table = getattr(getattr(obj, "table", None), "name", None)
    return not drift_skips(kind, name, table)


context.configure(
    connection=connection,
    include_object=include_object,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
