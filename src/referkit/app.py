"""The ASGI application: ``create_app`` builds it, the lifespan owns the engine."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import Receive, Scope, Send

from referkit import __version__, fastapi_params
from referkit.api import api_router, compat_routers
from referkit.auth.cache import PrincipalCache
from referkit.config import Settings, load_settings
from referkit.dashboard.router import install_dashboard
from referkit.db.engine import create_engine
from referkit.db.replica import ReplicaRouter
from referkit.db.session import SessionFactory
from referkit.embed import changes as _embed_changes  # noqa: F401  (registers the listeners)
from referkit.embed.cache import DashboardCache
from referkit.embed.endpoints import early_router as embed_early_router
from referkit.embed.pages import router as embed_pages_router
from referkit.embed.tokens import Verifier
from referkit.errors import PROBLEM_CODES, NotFound, install_error_handlers
from referkit.event.intake import PATHS as INTAKE_PATHS
from referkit.event.intake import EventIntake
from referkit.health.endpoints import router as health_router
from referkit.idempotency.middleware import IdempotencyMiddleware
from referkit.idempotency.service import IdempotencyService
from referkit.ingest import Ingest
from referkit.kit.http import system_resolver
from referkit.kit.memory import freeze_startup_objects
from referkit.kit.ratelimit import RateLimiter
from referkit.kit.time import utcnow
from referkit.link.cache import LinkCache
from referkit.link.detect import warm_up as warm_up_bot_detection
from referkit.link.dimensions import warm_up as warm_up_dimensions
from referkit.link.redirect import Redirects
from referkit.link.service import LinkService
from referkit.middleware import GuardMiddleware
from referkit.mobile.endpoints import well_known_router
from referkit.mobile.intake import InstallIntake, installs_app_id
from referkit.openapi import install_docs, operation_id_from_name
from referkit.protection import BodyLimit, RateLimitHeaders, RequireHttps, Timeout
from referkit.routing import install_route_table
from referkit.skan.endpoints import postback_router as skan_postback_router
from referkit.worker.runner import running as worker_running

logger = logging.getLogger("referkit")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    settings.keyring  # noqa: B018  (development: generate the key file now, fail fast)
    engine = create_engine(
        settings.db_url,
        pool_size=settings.db_pool_size,
        echo=settings.db_echo,
        pgbouncer=settings.database_pgbouncer,
    )
    replica = (
        ReplicaRouter(
            engine,
            create_engine(
                settings.database_replica_url,
                pool_size=settings.db_pool_size,
                echo=settings.db_echo,
                pgbouncer=settings.database_pgbouncer,
            ),
            max_lag_seconds=settings.database_replica_max_lag_seconds,
            redis_url=settings.redis_url,
            prefix=settings.redis_prefix,
        )
        if settings.database_replica_url
        else None
    )
    sessions = SessionFactory(
        engine, base_url=settings.base_url, keyring=settings.keyring, replica=replica
    )
    app.state.sessions = sessions
    app.state.limiter = RateLimiter(
        settings.redis_url,
        prefix=settings.redis_prefix,
        auth_failures=settings.auth_failure_limit,
        auth_failure_window_seconds=settings.auth_failure_window_seconds,
        block_seconds=settings.auth_block_seconds,
    )
    app.state.link_cache = link_cache = LinkCache(
        engine,
        settings.link_cache_ttl_seconds,
        redis_url=settings.redis_url,
        prefix=settings.redis_prefix,
        principals=app.state.principal_cache,
    )
    app.state.embed_tokens = Verifier(settings.signing_key)
    app.state.dashboards = DashboardCache(settings.embed_cache_ttl_seconds, links=link_cache)
    app.state.ingest = ingest = Ingest(settings, sessions)
    ingest.start()
    warm_up_bot_detection()
    warm_up_dimensions()
    freeze_startup_objects()
    purge = asyncio.create_task(_housekeeping(sessions))
    try:
        await link_cache.start()  # inside the try: a failed start still reaches close()
        async with contextlib.AsyncExitStack() as background:
            if settings.worker_in_process:
                await background.enter_async_context(worker_running(sessions, settings))
            yield
    finally:
        purge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purge
        await ingest.close()  # drains: every queued click and event is committed or failed
        await link_cache.close()  # after the last commit that may publish a change
        await app.state.limiter.close()
        sessions.close()
        await engine.dispose()
        if replica is not None:
            await replica.close()


async def _housekeeping(sessions: SessionFactory) -> None:
    """Hourly: expired idempotency keys (kept 24 hours) and reach marks of past hours."""
    while True:
        try:
            async with sessions.transaction() as session:
                await IdempotencyService(session).purge_expired()
                await LinkService(session).purge_reach_marks(utcnow())
        except SQLAlchemyError:
            logger.warning("housekeeping failed; retrying in an hour", exc_info=True)
        await asyncio.sleep(3600)


async def problem_page(request: Request) -> HTMLResponse:
    code = request.path_params["code"]
    if code not in PROBLEM_CODES:
        raise NotFound(f"No problem type {code!r}.")
    body = (
        f"<!doctype html><title>{html.escape(code)} — Referkit</title>"
        f"<h1><code>{html.escape(code)}</code></h1><p>{html.escape(PROBLEM_CODES[code])}</p>"
    )
    return HTMLResponse(body)


class Referkit(FastAPI):
    """The FastAPI application, with ``/r/{code}`` answered ahead of everything else.

    A redirect costs little more than a bare ASGI app only if it skips the API's middleware,
    router and request objects, so ``__call__`` hands it to ``Redirects`` directly; event
    ingestion goes to ``EventIntake`` (installs to ``InstallIntake``), which answers the plain
    case and passes the rest on.
    """

    redirects: Redirects
    intake: EventIntake
    install_intake: InstallIntake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["method"] in ("GET", "HEAD"):
                prefix = Redirects.matches(scope)
                if prefix:
                    await self.redirects(scope, receive, send, prefix)
                    return
            elif scope["method"] == "POST":
                path = scope["path"]
                if path in INTAKE_PATHS:
                    await self.intake(scope, receive, send, INTAKE_PATHS[path])
                    return
                app_id = installs_app_id(path)
                if app_id is not None:
                    await self.install_intake(scope, receive, send, app_id)
                    return
        await super().__call__(scope, receive, send)

    async def full_stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> Referkit:
    settings = settings or load_settings()
    app = Referkit(
        title="Referkit API",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id_from_name,
        # No trailing-slash redirects: Starlette builds their Location from the request's Host
        # header (an open redirect to any host a client names). ``/programs/`` is a 404 whose
        # detail names the path without the slash.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.principal_cache = PrincipalCache(settings.auth_cache_ttl_seconds)
    # Answers the DNS check when a webhook URL is stored; embedders and tests may replace it.
    app.state.resolver = system_resolver
    app.redirects = Redirects(app.state)
    app.intake = EventIntake(app.state, app.full_stack)
    app.install_intake = InstallIntake(app.state, app.full_stack)
    install_error_handlers(app)
    app.include_router(health_router)
    # Before the API: routes are matched in order, and the embedded dashboard's page and reads
    # should not wait for every API path to be tried first (``embed.endpoints.early_router``).
    app.include_router(embed_pages_router)
    app.include_router(embed_early_router)
    app.include_router(api_router)
    for compat in compat_routers:
        app.include_router(compat)
    app.include_router(well_known_router)
    app.include_router(skan_postback_router)
    app.add_route("/problems/{code}", problem_page, include_in_schema=False)
    install_docs(app)
    install_dashboard(app)
    install_route_table(app)
    fastapi_params.install()
    # Outermost last: Guard → HTTPS → body limit → rate-limit headers → timeout → idempotency.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(Timeout, seconds=settings.request_timeout_seconds)
    if settings.rate_limit_enabled:  # nothing takes a rate-limit decision otherwise
        app.add_middleware(RateLimitHeaders)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        batch_max_bytes=settings.max_batch_body_bytes,
        timeout_seconds=settings.request_body_timeout_seconds,
    )
    if settings.require_https:
        app.add_middleware(RequireHttps, trusted=settings.trusted_networks)
    app.add_middleware(GuardMiddleware)
    return app
