"""In-process TTL cache of redirect targets, keyed by lower-cased code.

Only found links are cached (an unknown code always reads the database, so a link created a
moment ago works at once). Services record the codes they change in ``session.info``; a
listener on every SQLAlchemy session drops those codes from every cache of this process once
the transaction commits, so an edit is visible to the next click. Other processes see it when
their entry expires (``link_cache_ttl_seconds``).
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from referkit.link.repository import redirect_target
from referkit.link.service import CHANGED_CODES

_MAX_ENTRIES = 50_000
_caches: weakref.WeakSet[LinkCache] = weakref.WeakSet()


class LinkCache:
    def __init__(self, engine: AsyncEngine, ttl_seconds: float) -> None:
        self.engine = engine
        self.ttl = ttl_seconds
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._generation = 0
        _caches.add(self)

    async def get(self, code_key: str) -> dict[str, Any] | None:
        entry = self._entries.get(code_key)
        now = time.monotonic()
        if entry is not None and entry[0] > now:
            return entry[1]
        generation = self._generation
        async with self.engine.connect() as conn:
            target = await redirect_target(conn, code_key)
        # An invalidation while we read may mean we read the old row: do not keep it.
        if target is not None and self.ttl > 0 and generation == self._generation:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[code_key] = (now + self.ttl, target)
        return target

    def invalidate(self, code_keys: set[str]) -> None:
        self._generation += 1
        for key in code_keys:
            self._entries.pop(key, None)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    codes: set[str] | None = session.info.pop(CHANGED_CODES, None)
    if codes:
        for cache in list(_caches):
            cache.invalidate(codes)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(CHANGED_CODES, None)
