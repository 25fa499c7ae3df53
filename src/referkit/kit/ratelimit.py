"""Rate limits and abuse blocking on the ``limits`` library.

Memory storage serves one process; with ``REFERKIT_REDIS_URL`` every process shares Redis, so a
key's limit holds across a whole deployment: a key allowed 5 a minute gets its 6th call
refused, whichever process answers it.

Abuse blocking counts failed authentications per client IP; reaching the threshold (the 20th
failure of 20 allowed) sets a block marker (a one-hit window as long as the block), and a
blocked IP is refused before its credentials are even checked.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from redis.exceptions import RedisError

logger = logging.getLogger("referkit.ratelimit")
_PAUSE = 5.0  # seconds the limiter lets everything through after the storage failed
_TIMEOUT = 2.0  # seconds to connect to, or hear from, Redis


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window frees up

    def headers(self) -> list[tuple[bytes, bytes]]:
        values = [
            (b"ratelimit-limit", str(self.limit)),
            (b"ratelimit-remaining", str(self.remaining)),
            (b"ratelimit-reset", str(self.reset_after)),
            (b"x-ratelimit-limit", str(self.limit)),
            (b"x-ratelimit-remaining", str(self.remaining)),
            (b"x-ratelimit-reset", str(self.reset_after)),
        ]
        return [(name, value.encode()) for name, value in values]


class LocalWindows:
    """Per-minute sliding window counters in process memory, for the request limits when
    there is no Redis: the rule of ``limits``' sliding window counter (the previous minute's
    count, weighted by how much of it the window still covers, plus this minute's), without
    its per-hit key building and storage round trips, on the paths that take every request.
    """

    PERIOD = 60.0

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int, int]] = {}  # key → (minute, previous, current)
        self._swept = 0.0

    def hit(self, key: str, limit: int, cost: int = 1) -> Decision:
        minute, into = divmod(time.time(), self.PERIOD)
        if minute != self._swept:
            self._sweep(minute)
        previous = current = 0
        window = self._windows.get(key)
        if window is not None:
            if window[0] == minute:
                previous, current = window[1], window[2]
            elif window[0] == minute - 1:
                previous = window[2]
        used = math.floor(previous * (self.PERIOD - into) / self.PERIOD) + current
        allowed = used + cost <= limit
        if allowed:
            current += cost
            used += cost
        self._windows[key] = (minute, previous, current)
        return Decision(allowed, limit, max(0, limit - used), math.ceil(self.PERIOD - into))

    def _sweep(self, minute: float) -> None:
        self._swept = minute
        self._windows = {k: w for k, w in self._windows.items() if w[0] >= minute - 1}


def _storage(redis_url: str | None, prefix: str) -> Storage:
    if not redis_url:
        return MemoryStorage()
    uri = redis_url if redis_url.startswith("async+") else "async+" + redis_url
    # Short timeouts: a Redis host that stops answering must not hang requests (see ``hit``).
    return RedisStorage(
        uri,
        implementation="redispy",
        key_prefix=prefix,
        socket_connect_timeout=_TIMEOUT,
        socket_timeout=_TIMEOUT,
    )


class RateLimiter:
    def __init__(
        self,
        redis_url: str | None,
        *,
        prefix: str = "referkit",
        auth_failures: int = 20,
        auth_failure_window_seconds: int = 300,
        block_seconds: int = 900,
    ) -> None:
        self.storage = _storage(redis_url, prefix)
        self.local = LocalWindows() if redis_url is None else None
        # Request limits: a sliding window counter (O(1) per hit, exact within a window, a
        # weighted blend across the boundary). Failures and blocks are rare and must be exact
        # (a block lasts its full length), so they use a moving window.
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self.exact = MovingWindowRateLimiter(self.storage)
        self.prefix = prefix
        self.failures = RateLimitItemPerSecond(auth_failures, auth_failure_window_seconds)
        self.block = RateLimitItemPerSecond(1, block_seconds)
        self._unreachable_until = 0.0  # the storage is left alone until then
        self._blocked_any = False
        """In-process storage only: whether this limiter ever started a block. Until it has,
        no IP can be blocked (no other process shares the storage), so ``blocked_for`` answers
        without asking the storage: the check every authenticated request makes."""

    def _paused(self) -> bool:
        return bool(self._unreachable_until) and time.monotonic() < self._unreachable_until

    def _unreachable(self, exc: BaseException) -> None:
        logger.warning("rate-limit storage unreachable (%s); not limiting for %ss", exc, _PAUSE)
        self._unreachable_until = time.monotonic() + _PAUSE

    async def hit(self, key: str, per_minute: int, *, cost: int = 1) -> Decision | None:
        """Count a request of API key ``key``; None when the storage (Redis) is unreachable.

        Limits fail open: Redis being away must not take the API down with it, so requests
        are then let through without limits or headers, and the storage is left alone for a
        few seconds (rather than every request paying for a failed connection).
        """
        if self.local is not None:
            return self.local.hit(f"key:{key}", per_minute, cost)
        if self._paused():
            return None
        item = RateLimitItemPerMinute(per_minute)
        try:
            allowed = await self.limiter.hit(item, self.prefix, "key", key, cost=cost)
            stats = await self.limiter.get_window_stats(item, self.prefix, "key", key)
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return None
        self._unreachable_until = 0.0
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed, per_minute, max(0, stats.remaining), reset_after)

    async def allow(self, scope: str, key: str, per_minute: int) -> bool:
        """One counting hit, no window statistics: for hot paths that send no headers (the
        redirect's flood limit). Fails open, as ``hit`` does."""
        if self.local is not None:
            return self.local.hit(f"{scope}:{key}", per_minute).allowed
        if self._paused():
            return True
        try:
            allowed = await self.limiter.hit(
                RateLimitItemPerMinute(per_minute), self.prefix, scope, key
            )
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return True
        self._unreachable_until = 0.0
        return bool(allowed)

    async def blocked_for(self, ip: str) -> int | None:
        """Seconds an IP remains blocked, or None when it is not blocked (or the storage is
        unreachable: blocks fail open too)."""
        if self.local is not None and not self._blocked_any:
            return None
        if self._paused():
            return None
        try:
            if await self.exact.test(self.block, self.prefix, "block", ip):
                return None
            stats = await self.exact.get_window_stats(self.block, self.prefix, "block", ip)
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def record_auth_failure(self, ip: str) -> None:
        """Count a failed authentication; the one that reaches the limit (the 20th of 20)
        starts the block, so the very next request from the IP is refused."""
        if self._paused():
            return
        try:
            counted = await self.exact.hit(self.failures, self.prefix, "authfail", ip)
            if not counted or not await self.exact.test(self.failures, self.prefix, "authfail", ip):
                self._blocked_any = True
                await self.exact.hit(self.block, self.prefix, "block", ip)
        except (RedisError, OSError) as exc:
            self._unreachable(exc)

    async def failures_over(self, scope: str, key: str, limit: int, window_seconds: int) -> int:
        """Seconds until ``key`` may try again, when ``limit`` failures were counted in the last
        ``window_seconds`` (0: it may try now). Fails open, as the other limits do."""
        if self._paused():
            return 0
        item = RateLimitItemPerSecond(limit, window_seconds)
        try:
            if await self.exact.test(item, self.prefix, scope, key):
                return 0
            stats = await self.exact.get_window_stats(item, self.prefix, scope, key)
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return 0
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def count_failure(self, scope: str, key: str, limit: int, window_seconds: int) -> None:
        """Count one failure of ``key`` against ``failures_over``'s window."""
        if self._paused():
            return
        try:
            await self.exact.hit(
                RateLimitItemPerSecond(limit, window_seconds), self.prefix, scope, key
            )
        except (RedisError, OSError) as exc:
            self._unreachable(exc)

    async def check(self) -> bool:
        return bool(await self.storage.check())

    async def close(self) -> None:
        """Close the Redis connection pool, if any (memory storage holds nothing to free)."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()
