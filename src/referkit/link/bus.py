"""Link changes between processes, over one Redis pub/sub channel.

Every process keeps its own link cache (a hit never leaves process memory); Redis only carries
invalidations. After a commit the process publishes what changed, and every other process drops
it from its cache as soon as the message arrives — an edit is followed everywhere at once.

A process that is not subscribed may miss messages, so the cache is told to forget everything
whenever the subscription is lost and again whenever it is (re)established (Redis confirms every
SUBSCRIBE, also those redis-py sends itself after reconnecting). Meanwhile ``connected`` is false
and the cache keeps entries only briefly. Redis being down never fails a request: publishing is
done by a background task, and redirects never wait for Redis.

Lifecycle: ``start()`` builds the client and its two tasks; ``close()`` publishes what is still
pending, stops both tasks and closes every connection. Nothing reaches Redis after ``close()``:
``publish()`` is then a no-op, so no connection can be opened on a closed client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from referkit.link.changes import LinkChanges

logger = logging.getLogger("referkit.link_cache")

_CONNECT_TIMEOUT = 2.0
_POLL_SECONDS = 5.0  # a read with a timeout lets health-check PINGs go out on idle connections
_HEALTH_CHECK_SECONDS = 15
_RETRY_MIN, _RETRY_MAX = 0.2, 5.0
_SUBSCRIBE_WAIT = 2.0  # how long start() waits for the first subscription
_FLUSH_WAIT = 3.0  # how long close() waits to publish what is pending


class LinkChangeBus:
    def __init__(
        self,
        redis_url: str,
        channel: str,
        *,
        on_change: Callable[[LinkChanges], None],
        on_resync: Callable[[], None],
    ) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self.on_change = on_change
        self.on_resync = on_resync
        self.origin = os.urandom(8).hex()  # our own messages are already applied here
        self.connected = False
        self._down_logged = False
        self._redis: Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = LinkChanges()
        self._wake = asyncio.Event()
        self._tried = asyncio.Event()  # the first subscription attempt has ended
        self._closing = self._closed = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Connect and subscribe; returns once subscribed, or once that failed or takes too
        long (the listener keeps trying; the process runs without it meanwhile)."""
        if self._redis is not None or self._closing:
            return
        self._loop = asyncio.get_running_loop()
        self._redis = Redis.from_url(
            self.redis_url,
            socket_connect_timeout=_CONNECT_TIMEOUT,
            socket_timeout=_CONNECT_TIMEOUT,
            socket_keepalive=True,
            health_check_interval=_HEALTH_CHECK_SECONDS,
            # One immediate retry: a pooled connection may predate a Redis restart. Longer
            # waits are the listener's own back-off, so close() never waits behind them.
            retry=Retry(NoBackoff(), 1),
        )
        self._tasks = [
            asyncio.create_task(self._listen(self._redis), name="link-changes-listen"),
            asyncio.create_task(self._publish_pending(self._redis), name="link-changes-publish"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tried.wait(), _SUBSCRIBE_WAIT)

    def publish(self, changes: LinkChanges) -> None:
        """Queue ``changes`` for the other processes; callable from any loop or thread."""
        loop = self._loop
        if self._closed or loop is None or not changes:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._queue(changes)
        else:  # a commit on another event loop (a CLI command run in-process, a test)
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody to tell
                loop.call_soon_threadsafe(self._queue, changes)

    def _queue(self, changes: LinkChanges) -> None:
        if not self._closed:
            self._pending.update(changes)
            self._wake.set()

    async def close(self) -> None:
        if self._redis is None or self._closed:
            self._closed = True
            return
        self._closing = True
        self._wake.set()
        listener, publisher = self._tasks
        listener.cancel()
        # The publisher returns once nothing is pending (given a moment when Redis is slow).
        await asyncio.wait({publisher}, timeout=_FLUSH_WAIT)
        publisher.cancel()
        self._closed = True
        await asyncio.wait(self._tasks)
        for task in self._tasks:
            if not task.cancelled() and task.exception() is not None:
                logger.error("link cache: %s failed", task.get_name(), exc_info=task.exception())
        self.connected = False
        # Both tasks are done, so nothing can take a connection from the pool any more.
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()

    async def _publish_pending(self, redis: Redis) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                await self._wake.wait()
                self._wake.clear()
                continue
            changes, self._pending = self._pending, LinkChanges()
            try:
                await redis.publish(self.channel, changes.dumps(self.origin))
            except (RedisError, OSError) as exc:
                # Subscribers that lose Redis forget their caches when they reconnect; one
                # that stayed connected keeps the old entry until its TTL runs out.
                logger.warning("link cache: could not publish a link change (%s)", exc)

    async def _listen(self, redis: Redis) -> None:
        delay = _RETRY_MIN
        while True:
            pubsub = redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                await self._receive(pubsub)
            except (RedisError, OSError) as exc:
                if self.connected or not self._down_logged:
                    logger.warning("link cache: no Redis subscription (%s); retrying", exc)
                    self._down_logged = True
                if self.connected:
                    delay = _RETRY_MIN
                self._lost()
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX)

    async def _receive(self, pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(timeout=_POLL_SECONDS)
            if message is None:
                continue
            if message["type"] == "subscribe":
                # Whatever was published before this point may have been missed.
                self.on_resync()
                if not self.connected and self._down_logged:
                    logger.warning("link cache: Redis subscription restored")
                self.connected = True
                self._down_logged = False
                self._tried.set()
            elif message["type"] == "message":
                self._heard(message["data"])

    def _heard(self, raw: bytes) -> None:
        try:
            origin, changes = LinkChanges.loads(raw)
        except ValueError:
            logger.warning("link cache: unreadable message on %s; forgetting all", self.channel)
            self.on_resync()
            return
        if origin != self.origin:
            self.on_change(changes)

    def _lost(self) -> None:
        self.connected = False
        self._tried.set()
        self.on_resync()
