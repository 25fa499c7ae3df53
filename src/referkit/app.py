"""The ASGI application: ``create_app`` builds it, the lifespan owns the engine."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse

from referkit import __version__
from referkit.api import api_router
from referkit.config import Settings, load_settings
from referkit.db.engine import create_engine
from referkit.db.session import SessionFactory
from referkit.errors import PROBLEM_CODES, NotFound, install_error_handlers
from referkit.health.endpoints import router as health_router
from referkit.middleware import GuardMiddleware
from referkit.openapi import install_docs, operation_id_from_name


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings.db_url, pool_size=settings.db_pool_size, echo=settings.db_echo)
    app.state.sessions = SessionFactory(engine)
    try:
        yield
    finally:
        await engine.dispose()


async def problem_page(request: Request) -> HTMLResponse:
    code = request.path_params["code"]
    if code not in PROBLEM_CODES:
        raise NotFound(f"No problem type {code!r}.")
    body = (
        f"<!doctype html><title>{html.escape(code)} — Referkit</title>"
        f"<h1><code>{html.escape(code)}</code></h1><p>{html.escape(PROBLEM_CODES[code])}</p>"
    )
    return HTMLResponse(body)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(
        title="Referkit API",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id_from_name,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(api_router)
    app.add_route("/problems/{code}", problem_page, include_in_schema=False)
    install_docs(app)
    app.add_middleware(GuardMiddleware)
    return app
