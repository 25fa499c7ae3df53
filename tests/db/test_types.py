"""``UTCDateTime`` reads every stored time as an aware UTC datetime, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect

from referkit.db.types import UTCDateTime


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-12-07 04:10:11.123456", datetime(2026, 12, 7, 4, 10, 11, 123456, tzinfo=UTC)),
        ("2026-12-07 04:10:11", datetime(2026, 12, 7, 4, 10, 11, tzinfo=UTC)),
        ("2026-12-07", datetime(2026, 12, 7, tzinfo=UTC)),
        (None, None),
    ],
)
def test_sqlite_text_reads_as_utc(stored: str | None, expected: datetime | None) -> None:
    for dialect in (sqlite.dialect(), aiosqlite_dialect()):
        process = UTCDateTime().result_processor(dialect, None)
        value = process(stored)
        assert value == expected
        if value is not None:
            assert value.tzinfo is UTC


@pytest.mark.parametrize(
    "stored",
    [
        datetime(2026, 12, 7, 4, 10, 11, tzinfo=UTC),
        datetime(2026, 12, 7, 6, 10, 11, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 12, 7, 4, 10, 11),
    ],
)
def test_postgresql_values_read_as_utc(stored: datetime) -> None:
    for dialect in (postgresql.dialect(), asyncpg_dialect()):
        value = UTCDateTime().result_processor(dialect, None)(stored)
        assert value == datetime(2026, 12, 7, 4, 10, 11, tzinfo=UTC)
        assert value.utcoffset() == timedelta(0)
        assert value.tzinfo is UTC
