"""Sessions and the request transaction boundary.

Only the boundary commits: the request dependency below, the worker's job runner and the CLI.
Services and repositories call ``flush()``. The dependency runs its cleanup as soon as the path
operation returns (FastAPI ``scope="function"``), before the response is sent, so a 2xx means
the change is committed; an exception rolls everything back.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from referkit.db.engine import write_engine
from referkit.db.replica import (
    CONSISTENCY_HEADER,
    REPLICA_BIND,
    REPLICA_ON,
    ReplicaRouter,
    RoutingSession,
    client_of,
    mark_writes,
)
from referkit.kit.crypto import KeyRing

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SessionFactory:
    """Builds read and write sessions over one engine."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        base_url: str | None = None,
        keyring: KeyRing | None = None,
        replica: ReplicaRouter | None = None,
    ) -> None:
        self.engine = engine
        self.replica = replica  # stats and list reads, see referkit.db.replica
        # ``session.info["base_url"]`` lets services build public links (a member's
        # referral_link in a webhook payload) without knowing about requests or settings;
        # ``session.info["keyring"]`` lets them open what is stored encrypted (``keyring_of``).
        info: dict[str, Any] = {"base_url": base_url} if base_url else {}
        if keyring is not None:
            info["keyring"] = keyring
        self._read = async_sessionmaker(
            engine,
            expire_on_commit=False,
            autoflush=False,
            info=info,
            sync_session_class=RoutingSession,
        )
        self._write = async_sessionmaker(
            write_engine(engine), expire_on_commit=False, autoflush=False, info=info
        )

    def __call__(self, *, write: bool = True) -> AsyncSession:
        return (self._write if write else self._read)()

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """A unit of work for CLI and worker code: commit on success, roll back on error."""
        async with self(write=write) as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise


BATCH_MEMO = "batch_memo"
"""``session.info`` key of a dict the event writer sets for one batch's transaction: reads
that every event of the batch would repeat (an app's enabled integrations, its windows) are
kept there for the batch. Outside a batch it is absent and nothing is memoised."""


def batch_memo(session: AsyncSession) -> dict[Any, Any] | None:
    """The batch's memo (``BATCH_MEMO``), or None outside an event batch."""
    memo: dict[Any, Any] | None = session.info.get(BATCH_MEMO)
    return memo


def base_url_of(session: AsyncSession, default: str = "http://127.0.0.1:8000") -> str:
    """The public base URL the session's factory was built with."""
    value = session.info.get("base_url")
    return value if isinstance(value, str) else default


def keyring_of(session: AsyncSession) -> KeyRing | None:
    """The keys the session's factory was given to open stored secrets, if any."""
    value = session.info.get("keyring")
    return value if isinstance(value, KeyRing) else None


READS_ONLY_TAG = "referkit_reads_only"


def reads_only(endpoint: Any) -> Any:
    """Mark a non-GET endpoint whose request session only reads (its writes go elsewhere, e.g.
    through a group-commit batcher). On SQLite a write session would hold the database's write
    lock from the first query to the response, and the batcher would queue behind it."""
    setattr(endpoint, READS_ONLY_TAG, True)
    return endpoint


def writes(request: Request) -> bool:
    """Whether this request's session is a write session."""
    if request.method in SAFE_METHODS:
        return False
    route = request.scope.get("route")
    return not getattr(getattr(route, "endpoint", None), READS_ONLY_TAG, False)


REPLICA_TAG = "referkit_replica_reads"
EndpointT = TypeVar("EndpointT", bound=Callable[..., Awaitable[Any]])


def replica_reads(endpoint: EndpointT) -> EndpointT:
    """Mark a GET endpoint (stats, lists) whose reads may come from the read replica.

    Only the endpoint's body reads there: the dependencies before it (authentication) read the
    primary. Whether this request may use the replica at all is decided in ``get_session``."""

    @functools.wraps(endpoint)
    async def body(*args: Any, **kwargs: Any) -> Any:
        for value in kwargs.values():
            if isinstance(value, AsyncSession):
                value.info[REPLICA_ON] = True
        return await endpoint(*args, **kwargs)

    setattr(body, REPLICA_TAG, True)
    return body  # type: ignore[return-value]


async def _replica_for(request: Request, factory: SessionFactory, session: AsyncSession) -> None:
    router = factory.replica
    route = request.scope.get("route")
    if router is None or not getattr(getattr(route, "endpoint", None), REPLICA_TAG, False):
        return
    strong = request.headers.get(CONSISTENCY_HEADER, "").lower() == "strong"
    if await router.choose(client_of(request.headers), strong=strong):
        session.info[REPLICA_BIND] = router.replica.sync_engine
        mark_writes(session)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    factory: SessionFactory = request.app.state.sessions
    write = writes(request)
    async with factory(write=write) as session:
        if not write:
            await _replica_for(request, factory, session)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    if write and factory.replica is not None:
        # Read-your-writes: this client's next reads wait for the replica to replay this.
        await factory.replica.wrote(client_of(request.headers))
