"""Message bodies in another product's shape, chosen per endpoint by its ``source``.

By default a message body is Referkit's ``{type, timestamp, data}``. A compatibility face
(Referral Rock's hooks) registers a format for the endpoints it creates, so those receive the
body their existing receiver parses. The webhook domain knows only this registry, not the
faces: they register themselves when imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BodyFormat = Callable[[str, dict[str, Any]], dict[str, Any]]
"""(event type, Referkit ``data``) → the JSON body to send."""

_FORMATS: dict[str, BodyFormat] = {}


def register(source: str, body_format: BodyFormat) -> None:
    _FORMATS[source] = body_format


def format_for(source: str | None) -> BodyFormat | None:
    return _FORMATS.get(source) if source else None
