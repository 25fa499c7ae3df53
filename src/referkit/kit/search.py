"""Case-insensitive substring search that treats the user's text literally."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matches_any(text: str, *columns: Any) -> ColumnElement[bool]:
    pattern = like_pattern(text)
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))
