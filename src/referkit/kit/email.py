"""Email normalization.

``identity_email`` is what makes two addresses the same person for lookups (case-insensitive).
``canonical_email`` folds the tricks people use to look like someone else to a fraud check:
case, ``+tags`` and, for Gmail, dots in the local part.
"""

from __future__ import annotations

_DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def identity_email(email: str) -> str:
    return email.strip().lower()


def canonical_email(email: str) -> str:
    local, _, domain = identity_email(email).rpartition("@")
    if not local:
        return identity_email(email)
    local = local.split("+", 1)[0]
    if domain in _DOTLESS_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"
