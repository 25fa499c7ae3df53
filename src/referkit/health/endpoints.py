"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from referkit.db.migrate import head_revision
from referkit.db.session import APIRouter, SessionFactory
from referkit.errors import ServiceUnavailable
from referkit.openapi import problems

router = APIRouter(tags=["Health"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    database: str | None = Field(default=None, examples=["postgresql"])
    revision: str | None = Field(default=None, description="Migration revision.", examples=["0002"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The database is reachable and migrated to head",
    responses=problems(503),
)
async def readyz(request: Request) -> Health:
    sessions: SessionFactory = request.app.state.sessions
    try:
        async with sessions(write=False) as session:
            revision = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except SQLAlchemyError:
        raise ServiceUnavailable("The database is not reachable or not migrated.") from None
    head = head_revision()
    if revision != head:
        raise ServiceUnavailable(f"The database is at revision {revision}; head is {head}.")
    return Health(status="ok", database=sessions.engine.dialect.name, revision=revision)
