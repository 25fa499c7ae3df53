"""Fast JSON encoding shared by responses and error bodies.

orjson refuses what JSON itself allows: integers beyond 64 bits, and documents nested deeper
than its recursion limit (254 levels). Input is bounded well below that now
(``kit.schemas.MAX_JSON_DEPTH``), but rows stored before the bound can still be that deep, so
every encoder here falls back to the standard library (slower, same output) instead of failing.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        # orjson.JSONEncodeError is a TypeError (big integers, deep nesting).
        return _stdlib(value, utc_z=False)


def dumps_utc(value: Any) -> bytes:
    """``dumps`` for API answers: datetimes in UTC as ``…Z`` (orjson's ``OPT_UTC_Z``)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_UTC_Z)
    except TypeError:
        return _stdlib(value, utc_z=True)


def _stdlib(value: Any, *, utc_z: bool) -> bytes:
    def default(item: Any) -> Any:
        if isinstance(item, datetime | date | time):
            text = item.isoformat()
            return text.removesuffix("+00:00") + "Z" if utc_z and text.endswith("+00:00") else text
        raise TypeError(f"{type(item).__name__} is not JSON serializable")

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=default).encode()


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
