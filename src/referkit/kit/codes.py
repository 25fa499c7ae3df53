"""Human-friendly referral codes.

Generated codes are a short name-based stem plus random characters from an alphabet without
look-alikes (no 0/O, 1/I/L), e.g. ``JANE7K2Q``: easy to read aloud and to type from a screen.
Uniqueness is enforced by the database; callers retry with a longer random part on collision.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

_SAFE = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CUSTOM_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,31}$"
_CUSTOM_RE = re.compile(CUSTOM_CODE_PATTERN)


def _stem(hint: str | None) -> str:
    if not hint:
        return ""
    ascii_hint = unicodedata.normalize("NFKD", hint).encode("ascii", "ignore").decode()
    first_word = re.split(r"[^A-Za-z]+", ascii_hint.split("@", 1)[0].strip())
    letters = next((word for word in first_word if word), "")
    return letters[:6].upper()


def generate_code(hint: str | None = None, random_chars: int = 4) -> str:
    """Return a code like ``JANE7K2Q``; without a usable hint, ``random_chars + 4`` random chars."""
    stem = _stem(hint)
    length = random_chars if stem else random_chars + 4
    return stem + "".join(secrets.choice(_SAFE) for _ in range(length))


def is_valid_custom_code(code: str) -> bool:
    return _CUSTOM_RE.match(code) is not None


def code_key(code: str) -> str:
    """Codes are case-insensitive: ``jane7k2q`` and ``JANE7K2Q`` are the same link."""
    return code.lower()
