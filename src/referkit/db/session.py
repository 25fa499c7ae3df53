"""Sessions and the request transaction boundary.

Only the boundary commits: a route's transaction (``TransactionRoute``), the worker's job
runner and the CLI. Services and repositories call ``flush()``. A route whose dependencies or
endpoint take the request's session (``get_session``) opens it before its dependencies are
solved and commits it as soon as the path operation has returned and its response is built,
before the response is sent, so a 2xx means the change is committed; an exception rolls
everything back.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import fastapi
from anyio import CancelScope
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _effective_route_context_var
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from referkit.db.engine import write_engine
from referkit.db.plain_reads import LOOP_READER, WRITE_SESSION, LoopReader
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
        # Plain reads on the event loop (``db.plain_reads``), when the database is a file.
        self.reader = LoopReader.of(engine) if replica is None else None
        if self.reader is not None:
            info[LOOP_READER] = self.reader
        self._read = async_sessionmaker(
            engine,
            expire_on_commit=False,
            autoflush=False,
            info=info,
            sync_session_class=RoutingSession,
        )
        self._write = async_sessionmaker(
            write_engine(engine),
            expire_on_commit=False,
            autoflush=False,
            info={**info, WRITE_SESSION: True},
        )

    def close(self) -> None:
        """Close what the factory opened itself (the plain-read connections)."""
        if self.reader is not None:
            self.reader.close()

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
    primary. Whether this request may use the replica at all is decided by its route
    (``TransactionRoute``)."""

    @functools.wraps(endpoint)
    async def body(*args: Any, **kwargs: Any) -> Any:
        for value in kwargs.values():
            if isinstance(value, AsyncSession):
                value.info[REPLICA_ON] = True
        return await endpoint(*args, **kwargs)

    setattr(body, REPLICA_TAG, True)
    return body  # type: ignore[return-value]


async def _replica_for(request: Request, router: ReplicaRouter, session: AsyncSession) -> None:
    strong = request.headers.get(CONSISTENCY_HEADER, "").lower() == "strong"
    if await router.choose(client_of(request.headers), strong=strong):
        session.info[REPLICA_BIND] = router.replica.sync_engine
        mark_writes(session)


SESSION_KEY = "referkit.session"
"""The ASGI scope key of the request's session while its route runs."""


async def get_session(request: Request) -> AsyncSession:
    """The request's session, opened and ended by its route (``TransactionRoute``)."""
    try:
        session: AsyncSession = request.scope[SESSION_KEY]
    except KeyError:
        raise RuntimeError(
            f"{request.scope.get('route')!r} takes the request's session but does not open "
            "one: declare it on referkit.db.session.APIRouter (a TransactionRoute)"
        ) from None
    return session


def _takes_session(dependant: Dependant) -> bool:
    stack = [dependant]
    while stack:
        item = stack.pop()
        if item.call is get_session:
            return True
        stack.extend(item.dependencies)
    return False


def _touched(session: AsyncSession) -> bool:
    """Whether a session has anything to commit: a transaction begun, or objects added, deleted
    or loaded (one changed after an earlier commit). A request that only made plain reads
    (``db.plain_reads``) leaves its session untouched, and commits nothing."""
    return bool(session.in_transaction() or session.new or session.deleted or session.identity_map)


class TransactionRoute(APIRoute):
    """An API route whose request runs in one transaction, when it takes a session.

    What FastAPI would do for a generator dependency with ``scope="function"`` (open, yield,
    commit or roll back in a shielded exit), done around the route's handler instead: one
    session per request, put in the scope for ``get_session``, no dependency exit stack and no
    generator to drive. A read request (GET, HEAD, OPTIONS, or an endpoint marked
    ``reads_only``) gets a read session, on the replica when the endpoint is marked
    ``replica_reads`` and the replica is fresh enough; after a write, the client's next reads
    wait for the replica to replay it (``ReplicaRouter.wrote``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        # An included route is built once per inclusion, with the dependencies it has there.
        context = _effective_route_context_var.get()
        dependant = (
            context.dependant
            if context is not None and context.original_route is self
            else self.dependant
        )
        if not _takes_session(dependant):
            return handler
        reads_only_ = getattr(self.endpoint, READS_ONLY_TAG, False)
        replica = getattr(self.endpoint, REPLICA_TAG, False)

        async def transaction(request: Request) -> Response:
            scope = request.scope
            factory: SessionFactory = scope["app"].state.sessions
            write = not reads_only_ and scope["method"] not in SAFE_METHODS
            session = factory(write=write)
            scope[SESSION_KEY] = session
            try:
                if replica and not write and factory.replica is not None:
                    await _replica_for(request, factory.replica, session)
                response = await handler(request)
                if _touched(session):
                    with CancelScope(shield=True):
                        await session.commit()
            except BaseException:
                with CancelScope(shield=True):
                    await session.close()  # rolls back and gives the connection back
                raise
            finally:
                del scope[SESSION_KEY]
            # Committed, the session holds no connection and nothing reads it after this: it is
            # left to the garbage collector rather than closed (a close costs a task).
            if write and factory.replica is not None:
                # Read-your-writes: this client's next reads wait for the replica to replay this.
                await factory.replica.wrote(client_of(request.headers))
            return response

        return transaction


class APIRouter(fastapi.APIRouter):
    """FastAPI's router, its routes ``TransactionRoute``s unless told otherwise."""

    def __init__(self, *args: Any, route_class: type[APIRoute] = TransactionRoute, **kwargs: Any):
        super().__init__(*args, route_class=route_class, **kwargs)
