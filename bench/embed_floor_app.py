"""The floor for the embedded dashboard: FastAPI on the same database engine (SQLAlchemy async,
the URL in ``BENCH_FLOOR_URL``), answering ``GET /floor/{member_id}`` with one indexed read (the
member's referral code by primary key) as JSON. No auth, no rate limit, no other query: every
request that shows a member their numbers costs at least this on the same machine and server
flags, so ``bench/embed.py`` prints Referkit's figures as a ratio of it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from sqlalchemy import text

from referkit.db.engine import create_engine

_READ = text("SELECT referral_code FROM members WHERE id = :id")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = create_engine(os.environ["BENCH_FLOOR_URL"], pool_size=10, echo=False)
    app.state.engine = engine
    yield
    await engine.dispose()


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
