"""Reads from a streaming replica (``REFERKIT_DATABASE_REPLICA_URL``), never at the cost of
reading stale data a client has just written.

Only the body of an endpoint marked ``replica_reads`` (stats and lists) may read from the
replica, and only when ``ReplicaRouter.choose`` said so at the start of the request:

- a write session, or a session that has flushed a write, always uses the primary; so does
  everything before the endpoint body (authentication reads the keys on the primary, so a
  revoked key is refused at once);
- read-your-writes: after a request of a client (the same ``Authorization`` header or dashboard
  session cookie) commits a write, the primary's WAL position is remembered for that client;
  its reads go to the replica only once the replica has replayed past it. A client can also
  ask for the primary with ``Referkit-Consistency: strong``;
- a replica that lags by more than ``REFERKIT_DATABASE_REPLICA_MAX_LAG_SECONDS``, or cannot be
  reached, is skipped (the primary answers) until a later check finds it well again.

The replica's position is read at most every ``STATUS_TTL`` seconds and shared by all requests
of the process; a client waiting for its own write triggers one fresh read. The clients' write
positions are kept in the process and, with Redis configured, in Redis too (``MARK_SECONDS``),
so a client's next request may reach any process; while Redis cannot be read, reads that
would need it go to the primary.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

logger = logging.getLogger("referkit.replica")

CONSISTENCY_HEADER = "referkit-consistency"
STATUS_TTL = 0.5
DOWN_SECONDS = 5.0
CHECK_TIMEOUT = 1.0
MARKS_KEPT = 10_000
_UNKNOWN = (1 << 64) - 1
MARK_SECONDS = 60
REPLICA_BIND = "referkit_replica_bind"
REPLICA_ON = "referkit_replica_on"
WROTE = "referkit_wrote"


def lsn(value: str | None) -> int:
    """``'16/B374D848'`` as a number (0 for None)."""
    if not value:
        return 0
    high, _, low = value.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def client_of(headers: Any) -> str | None:
    """Who is asking, for read-your-writes: a hash of the credentials (never the secret)."""
    credential = headers.get("authorization") or headers.get("cookie")
    if not credential:
        return None
    return hashlib.sha256(credential.encode()).hexdigest()[:32]


@dataclass
class ReplicaStatus:
    replayed: int
    lag_seconds: float
    read_at: float


class RoutingSession(Session):
    """A session that sends the endpoint's reads to the replica once ``choose`` allowed it and
    the endpoint body runs, until the session flushes a write."""

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Any:
        replica: Engine | None = self.info.get(REPLICA_BIND)
        if replica is not None and self.info.get(REPLICA_ON) and not self.info.get(WROTE):
            return replica
        return super().get_bind(mapper=mapper, clause=clause, **kw)


def mark_writes(session: AsyncSession) -> None:
    """Remember that ``session`` flushed a write (its reads stay on the primary)."""

    @event.listens_for(session.sync_session, "after_flush")
    def _wrote(sync_session: Session, context: Any) -> None:
        sync_session.info[WROTE] = True


class ReplicaRouter:
    def __init__(
        self,
        primary: AsyncEngine,
        replica: AsyncEngine,
        *,
        max_lag_seconds: float,
        redis_url: str | None = None,
        prefix: str = "referkit",
    ) -> None:
        self.redis = Redis.from_url(redis_url, socket_timeout=0.5) if redis_url else None
        self.prefix = f"{prefix}:replica:written:"
        self.primary = primary
        self.replica = replica
        self.max_lag = max_lag_seconds
        self._status: ReplicaStatus | None = None
        self._down_until = 0.0
        self._marks: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = asyncio.Lock()

    async def status(self, *, fresh: bool = False) -> ReplicaStatus | None:
        """The replica's replayed WAL position and lag; None while it is down."""
        now = time.monotonic()
        if now < self._down_until:
            return None
        current = self._status
        if current is not None and not fresh and now - current.read_at < STATUS_TTL:
            return current
        async with self._lock:
            if self._status is not current and self._status is not None:
                return self._status  # another request read it meanwhile
            try:
                async with asyncio.timeout(CHECK_TIMEOUT), self.replica.connect() as conn:
                    row = (
                        await conn.execute(
                            text(
                                "SELECT pg_last_wal_replay_lsn()::text, CASE "
                                "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
                                "ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) "
                                "END"
                            )
                        )
                    ).one()
            except Exception as exc:  # whatever the failure, the primary answers
                logger.warning("read replica unavailable (%s); reading from the primary", exc)
                self._status = None
                self._down_until = time.monotonic() + DOWN_SECONDS
                return None
            self._status = ReplicaStatus(lsn(row[0]), float(row[1] or 0), time.monotonic())
            return self._status

    async def choose(self, client: str | None, *, strong: bool = False) -> bool:
        """Whether this request's reads may go to the replica."""
        if strong:
            return False
        status = await self.status()
        if status is None or status.lag_seconds > self.max_lag:
            return False
        mark = await self._mark_of(client)
        if mark is None:
            return False
        if mark and status.replayed < mark:
            status = await self.status(fresh=True)
            return status is not None and status.replayed >= mark
        return True

    async def _mark_of(self, client: str | None) -> int | None:
        """Where the primary's WAL was after ``client``'s last write (0: none known; None:
        unknown, Redis could not be read)."""
        if client is None:
            return 0
        position = 0
        found = self._marks.get(client)
        if found is not None:
            if time.monotonic() - found[1] > MARK_SECONDS:
                del self._marks[client]
            else:
                position = found[0]
        if self.redis is not None:
            try:
                shared = await self.redis.get(self.prefix + client)
            except (RedisError, OSError):
                return None
            if shared is not None:
                position = max(position, int(shared))
        return position

    async def wrote(self, client: str | None) -> None:
        """After ``client``'s write committed: remember where the primary's WAL is now."""
        if client is None:
            return
        try:
            async with self.primary.connect() as conn:
                found = await conn.scalar(text("SELECT pg_current_wal_insert_lsn()::text"))
        except Exception:  # the write is committed: answer it, and keep its reads safe
            logger.warning("could not read the primary's WAL position", exc_info=True)
            found = None
        # Unknown position: wait for everything the replica may lack (reads go to the primary
        # until the mark expires or the replica is seen past the greatest possible position).
        position = lsn(found) if found is not None else _UNKNOWN
        self._marks[client] = (position, time.monotonic())
        self._marks.move_to_end(client)
        while len(self._marks) > MARKS_KEPT:
            self._marks.popitem(last=False)
        if self.redis is not None:
            try:
                # Positions only grow: the greatest of concurrent writes must stay.
                await self.redis.eval(
                    _KEEP_GREATEST, 1, self.prefix + client, position, MARK_SECONDS
                )
            except (RedisError, OSError):
                logger.warning("could not share a write position in Redis", exc_info=True)

    async def close(self) -> None:
        await self.replica.dispose()
        if self.redis is not None:
            await self.redis.aclose()


_KEEP_GREATEST = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
    redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""
