"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from referkit.kit.time import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python; ``timestamptz`` on PostgreSQL, UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        # SQLite stores text; dropping the offset keeps lexical order equal to time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], datetime | None]:
        # One function per value read: the dialect's own parse (SQLite's text, in C) and then
        # UTC, rather than SQLAlchemy's wrapper calling a ``process_result_value`` (a tenth of
        # a page of referrals went to these calls).
        parse = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if parse is not None:
                value = parse(value)
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
            return value.astimezone(UTC)  # type: ignore[no-any-return]

        return process


JSONType = JSON().with_variant(JSONB(), "postgresql")
