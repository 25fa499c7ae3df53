"""In-process TTL cache of redirect targets, keyed by lower-cased code.

Only found links are cached (an unknown code always reads the database, so a link created a
moment ago works at once). Services record what they change in ``session.info`` (see
``link.changes``); a listener on every SQLAlchemy session drops it from every cache of this
process once the transaction commits, so an edit is visible to the next click.

Other processes hear of it through Redis when ``REFERKIT_REDIS_URL`` is set (``link.bus``): the
change is published after the commit and each process drops it on arrival, so an edit is
followed everywhere at once. Hits are always served from this process's memory; Redis carries
only invalidations, and a miss reads the database (one indexed lookup; a copy shared through
Redis could be written back by a reader that raced an edit and outlive its invalidation).
Without Redis, other processes' edits are seen when the entry expires
(``link_cache_ttl_seconds``); while a configured Redis is unreachable, within ``_DETACHED_TTL``.

A cached ``Target`` carries each platform's destination already built (UTM parameters merged
into the stored URL), split around the click id, so a redirect only joins three strings.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from referkit.auth.cache import PrincipalCache
from referkit.link.app_route import AppRoute, store_urls
from referkit.link.bus import LinkChangeBus
from referkit.link.changes import LINK_CHANGES, ChangeFollower, LinkChanges
from referkit.link.repository import redirect_target

_MAX_ENTRIES = 50_000
_DETACHED_TTL = 2.0  # seconds an entry is kept while a configured Redis cannot be heard
_MARK = "RKCLICKMARK"
_caches: weakref.WeakSet[LinkCache] = weakref.WeakSet()


def with_params(url: str, params: list[tuple[str, str]]) -> str:
    """``url`` with ``params`` appended to its query (keeping its own values and fragment)."""
    parts = urlsplit(url)
    existing = parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _ in existing}
    added = [(n, v) for n, v in params if n not in present or n == "rk_click"]
    query = urlencode([(n, v) for n, v in existing if n != "rk_click"] + added)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _split_destination(url: str | None, utm: dict[str, Any] | None) -> tuple[str, str] | None:
    if not url:
        return None
    params = [(f"utm_{name}", value) for name, value in (utm or {}).items() if value]
    head, _, tail = with_params(url, [*params, ("rk_click", _MARK)]).partition(_MARK)
    return head, tail


def _play_store(url: str) -> tuple[str, str]:
    """The Play Store URL with ``referrer=rk_click%3D<click id>`` (Play Install Referrer)."""
    head, _, tail = with_params(url, [("referrer", f"rk_click={_MARK}")]).partition(_MARK)
    return head, tail


def _app_destinations(row: dict[str, Any]) -> dict[str, tuple[str, str] | None]:
    """An app link: iOS → its ``ios_url`` or the App Store; Android → its ``android_url`` or
    the Play Store (with the install referrer); others → its destination or the app's web URL."""
    stores = store_urls(row["app_platforms"] or {})
    utm = row["utm"]
    web = _split_destination(row["destination_url"] or stores["web"], utm)
    android: tuple[str, str] | None = None
    if row["android_url"]:
        android = _split_destination(row["android_url"], utm)
    elif stores["android"]:
        android = _play_store(stores["android"])
    return {
        "web": web or _split_destination(stores["ios"] or stores["android"], utm),
        "ios": _split_destination(row["ios_url"] or stores["ios"], utm) or web,
        "android": android or web,
    }


def _utm_groups(row: dict[str, Any]) -> dict[str, Any]:
    utm = row["utm"] or {}
    return {
        "utm_source": str(utm.get("source") or ""),
        "utm_campaign": str(utm.get("campaign") or ""),
    }


@dataclass(frozen=True, slots=True)
class Target:
    """What ``/r/{code}`` needs about a link."""

    id: str
    workspace_id: str
    livemode: bool
    program_id: str | None
    member_id: str | None
    expires_at: datetime | None
    archived: bool
    destinations: dict[str, tuple[str, str] | None] = field(repr=False)
    app: AppRoute | None = None
    """Set for a link of an app: the redirect then also records the click's app details."""
    utm_source: str = ""
    utm_campaign: str = ""
    """The link's own ``utm`` source and campaign: its clicks' groups unless the request names
    others."""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Target:
        if row.get("app_platforms") is not None:
            return cls(
                id=row["id"],
                workspace_id=row["workspace_id"],
                livemode=row["livemode"],
                program_id=row["program_id"],
                member_id=row["member_id"],
                expires_at=row["expires_at"],
                archived=row["archived_at"] is not None,
                destinations=_app_destinations(row),
                app=AppRoute.from_row(row),
                **_utm_groups(row),
            )
        fallback = row["destination_url"] or row["landing_url"]
        web = _split_destination(fallback, row["utm"])
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            livemode=row["livemode"],
            program_id=row["program_id"],
            member_id=row["member_id"],
            expires_at=row["expires_at"],
            archived=row["archived_at"] is not None,
            destinations={
                "web": web,
                "ios": _split_destination(row["ios_url"], row["utm"]) or web,
                "android": _split_destination(row["android_url"], row["utm"]) or web,
            },
            **_utm_groups(row),
        )

    def location(self, platform: str, click_id: str, now: datetime) -> str | None:
        """Where to send this click, or None when the link is archived, expired or has none."""
        if self.archived or (self.expires_at is not None and self.expires_at <= now):
            return None
        parts = self.destinations.get(platform) or self.destinations["web"]
        return None if parts is None else f"{parts[0]}{click_id}{parts[1]}"


class LinkCache:
    def __init__(
        self,
        engine: AsyncEngine,
        ttl_seconds: float,
        *,
        redis_url: str | None = None,
        prefix: str = "referkit",
        principals: PrincipalCache | None = None,
    ) -> None:
        self.engine = engine
        self.ttl = ttl_seconds
        self.principals = principals
        """The event intake's credentials: the same changes name the API keys it must forget."""
        self._entries: dict[str, tuple[float, Target]] = {}
        self._generation = 0
        self._followers: list[ChangeFollower] = []
        self.bus = (
            LinkChangeBus(
                redis_url,
                f"{prefix}:link-changes",
                on_change=self._drop,
                on_resync=self._forget_all,
            )
            if redis_url and (ttl_seconds > 0 or principals is not None)
            else None
        )
        _caches.add(self)

    def follow(self, follower: ChangeFollower) -> None:
        """Have ``follower`` hear every change this cache hears (from this process's commits
        and, with Redis, from every other process), and forget everything when it does."""
        self._followers.append(follower)

    @property
    def detached(self) -> bool:
        """A Redis is configured but not heard now: other processes' changes cannot reach us."""
        return self.bus is not None and not self.bus.connected

    async def start(self) -> None:
        """With Redis: subscribe to other processes' changes (never fails; see ``link.bus``)."""
        if self.bus is not None:
            await self.bus.start()

    async def close(self) -> None:
        """Stop hearing and telling about changes; the cache keeps answering from the database."""
        _caches.discard(self)
        if self.bus is not None:
            await self.bus.close()

    def peek(self, code_key: str) -> Target | None:
        """The cached target, without touching the database (None: not cached or expired)."""
        entry = self._entries.get(code_key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        return None

    async def get(self, code_key: str) -> Target | None:
        cached = self.peek(code_key)
        if cached is not None:
            return cached
        generation = self._generation
        async with self.engine.connect() as conn:
            row = await redirect_target(conn, code_key)
        target = Target.from_row(row) if row is not None else None
        # An invalidation while we read may mean we read the old row: do not keep it.
        if target is not None and self.ttl > 0 and generation == self._generation:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            ttl = self.ttl
            if self.bus is not None and not self.bus.connected:
                ttl = min(ttl, _DETACHED_TTL)  # other processes' edits cannot reach us now
            self._entries[code_key] = (time.monotonic() + ttl, target)
        return target

    def invalidate(self, changes: LinkChanges) -> None:
        """Drop ``changes`` here and, with Redis, tell every other process."""
        self._drop(changes)
        if self.bus is not None:
            self.bus.publish(changes)

    def _drop(self, changes: LinkChanges) -> None:
        if (changes.api_keys or changes.key_workspaces) and self.principals is not None:
            self.principals.forget(changes.api_keys, changes.key_workspaces)
        for follower in self._followers:
            follower.drop(changes)
        if not changes.touches_links:
            return  # clicks name the members whose numbers they change, every batch
        self._generation += 1
        for key in changes.codes:
            self._entries.pop(key, None)
        if changes.programs or changes.test_workspaces:
            # Rare (a program's landing URL, a deleted program, a test-data wipe): one pass.
            programs, workspaces = changes.programs, changes.test_workspaces
            stale = [
                key
                for key, (_, target) in self._entries.items()
                if target.program_id in programs
                or (not target.livemode and target.workspace_id in workspaces)
            ]
            for key in stale:
                del self._entries[key]

    def _forget_all(self) -> None:
        self._generation += 1
        self._entries.clear()
        if self.principals is not None:
            self.principals.clear()
        for follower in self._followers:
            follower.clear()


def announce(changes: LinkChanges) -> None:
    """Tell every cache of this process (and, through theirs, every other process) about
    ``changes`` committed outside an ORM session: the click writers' own transactions."""
    if changes:
        for cache in list(_caches):
            cache.invalidate(changes)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    changes: LinkChanges | None = session.info.pop(LINK_CHANGES, None)
    if changes:
        announce(changes)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(LINK_CHANGES, None)
