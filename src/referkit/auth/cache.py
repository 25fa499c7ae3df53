"""Recently authenticated credentials, so the event intake can skip the key lookup.

An entry maps a digest of the ``Authorization`` header to the ``Principal`` that
authentication (``current_principal``) produced for it, for ``ttl`` seconds. Only the hot event
intake reads it; every other request authenticates against the database as before and, on
success, refreshes the entry. Revoking a key, regenerating its secret or changing its limit
records the key in the transaction's changes (``referkit.link.changes``): once committed, this
process forgets the key's entries before the answer goes out, and with Redis every other process
hears it at once. Without Redis, other processes stop accepting a revoked key within ``ttl``
(``REFERKIT_AUTH_CACHE_TTL_SECONDS``; 0 turns the cache off).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from referkit.auth.principal import Principal

MAX_ENTRIES = 10_000


def digest(authorization: bytes) -> bytes:
    return hashlib.blake2b(authorization, digest_size=20).digest()


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    expires: float


class PrincipalCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[bytes, _Entry] = {}
        self.generation = 0
        """Counts forgets: an authentication that read the key before one must not cache it."""

    def get(self, authorization: bytes) -> Principal | None:
        if self.ttl <= 0:
            return None
        entry = self._entries.get(digest(authorization))
        if entry is None or entry.expires < time.monotonic():
            return None
        return entry.principal

    def put(self, authorization: str, principal: Principal, *, read_at: int) -> None:
        """Cache ``principal``, authenticated from a key read when ``generation`` was
        ``read_at``; a revocation committed since then may postdate that read, so then not."""
        if self.ttl <= 0 or read_at != self.generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            now = time.monotonic()
            self._entries = {k: e for k, e in self._entries.items() if e.expires >= now}
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
        key = digest(authorization.encode("latin-1"))
        self._entries[key] = _Entry(principal, time.monotonic() + self.ttl)

    def forget(
        self, key_ids: AbstractSet[str], workspace_ids: AbstractSet[str] = frozenset()
    ) -> None:
        """Drop every entry of these API keys (revoked, regenerated or changed) and of every
        key of these workspaces (whose default rate limit changed)."""
        self.generation += 1
        self._entries = {
            k: e
            for k, e in self._entries.items()
            if e.principal.key_id not in key_ids and e.principal.workspace_id not in workspace_ids
        }

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
