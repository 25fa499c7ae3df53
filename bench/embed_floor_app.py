"""The floors for the embedded dashboard and the API: FastAPI on the same database engine
(SQLAlchemy async, the URL in ``BENCH_FLOOR_URL``), one ``engine.connect()`` per request.

- ``GET /floor/{member_id}``: one indexed read (the member's referral code by primary key) as
  JSON. No auth, no rate limit, no other query: every request that shows a member their numbers
  costs at least this on the same machine and server flags, so ``bench/embed.py`` prints
  Referkit's figures as a ratio of it.
- ``GET /floor/programs/{program_id}``: an authenticated read at its least: the Bearer
  secret's SHA-256 looked up by index in ``api_keys``, then one program read by id within the
  key's workspace, answered as JSON, on an engine with SQLAlchemy's defaults (its default pool,
  none of Referkit's engine settings). ``bench/api.py`` measures the everyday API path
  against it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from referkit.db.engine import create_engine
from referkit.kit.crypto import hash_secret

_READ = text("SELECT referral_code FROM members WHERE id = :id")
_KEY = text("SELECT workspace_id FROM api_keys WHERE secret_hash = :hash AND revoked_at IS NULL")
_PROGRAM = text(
    "SELECT id, name, status, landing_url FROM programs WHERE id = :id AND workspace_id = :ws"
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = create_engine(os.environ["BENCH_FLOOR_URL"], pool_size=10, echo=False)
    app.state.engine = engine
    app.state.plain = plain = create_async_engine(os.environ["BENCH_FLOOR_URL"])
    yield
    await engine.dispose()
    await plain.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/floor/{member_id}")
async def floor(member_id: str) -> dict[str, str]:
    async with app.state.engine.connect() as conn:
        code = await conn.scalar(_READ, {"id": member_id})
    if code is None:
        raise HTTPException(404)
    return {"referral_code": str(code)}


@app.get("/floor/programs/{program_id}")
async def floor_program(program_id: str, request: Request) -> dict[str, str]:
    scheme, _, secret = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer":
        raise HTTPException(401)
    async with app.state.plain.connect() as conn:
        workspace = await conn.scalar(_KEY, {"hash": hash_secret(secret.strip())})
        if workspace is None:
            raise HTTPException(401)
        row = (await conn.execute(_PROGRAM, {"id": program_id, "ws": workspace})).first()
    if row is None:
        raise HTTPException(404)
    return {"id": row.id, "name": row.name, "status": row.status, "landing_url": row.landing_url}
