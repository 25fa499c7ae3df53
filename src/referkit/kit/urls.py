"""URL checks for values we later redirect to or call: absolute http(s), no credentials."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


def check_http_url(value: str) -> str:
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() for ch in value) or any(ord(ch) < 32 for ch in value):
        raise ValueError("must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not contain credentials")
    if port == 0:
        raise ValueError("has an invalid port")
    return value


def check_origin(value: str) -> str:
    """``https://example.com`` or ``http://localhost:3000``: scheme, host, optional port only."""
    value = value.rstrip("/")
    check_http_url(value)
    parts = urlsplit(value)
    if parts.path or parts.query or parts.fragment:
        raise ValueError("an origin is scheme://host[:port] without a path")
    return value.lower()
