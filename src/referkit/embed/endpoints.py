"""Embed API: the two token calls (full-scope API keys) and ``/embed/me`` (an embed token).

``/embed/me`` is called from the host page's browser, so it answers CORS for the program's
``allowed_origins``. A preflight carries no token, so it cannot know the program: it lets any
origin *send* the read-only GET, and the real answer is readable only by an allowed origin
(``Access-Control-Allow-Origin`` is set on it only then), which is what keeps the data safe.

``/embed/me`` and the page read through ``TokenView``: a dashboard in the cache
(``embed.cache``) is answered without a database session; on a miss the view opens a read
session, reads the program, the member and its numbers, and keeps them for the next view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Body, Request, Response, status
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.dependencies import Session, WritePrincipal
from referkit.config import Settings
from referkit.db.session import APIRouter, SessionFactory
from referkit.embed import tokens
from referkit.embed.cache import Board, DashboardCache, ProgramLook
from referkit.embed.exceptions import EmbedTokenError
from referkit.embed.schemas import (
    EmbedMe,
    EmbedToken,
    EmbedTokenCreate,
    ProgramEmbedToken,
    ProgramEmbedTokenCreate,
)
from referkit.embed.service import EmbedService, check_unexpired
from referkit.embed.tokens import EmbedClaims, Verifier
from referkit.errors import AuthenticationRequired, RateLimited, ReferkitError, error_response
from referkit.kit.json import dumps
from referkit.kit.ratelimit import RateLimiter
from referkit.member.endpoints import member_out
from referkit.models import Program
from referkit.openapi import problems

router = APIRouter(tags=["Embedded dashboard"])
EXPOSED_HEADERS = "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"


_EXPIRES_AT = TypeAdapter(datetime)


def embed_service(request: Request, session: AsyncSession) -> EmbedService:
    settings: Settings = request.app.state.settings
    return EmbedService(
        session,
        signing_key=settings.signing_key,
        base_url=settings.base_url,
        verifier=request.app.state.embed_tokens,
    )


def verify_token(request: Request, token: str) -> EmbedClaims:
    """The claims of a token we signed (expired or not); ``EmbedTokenError`` otherwise."""
    verifier: Verifier = request.app.state.embed_tokens
    try:
        return verifier.verify(token)
    except tokens.TokenError:
        raise EmbedTokenError("The embed token is not valid.") from None


class TokenView:
    """What one verified token shows: ``program()`` (its allowed origins and look, which
    every answer needs, refusals included), then ``board()`` (the member's dashboard, or
    ``EmbedTokenExpired`` / ``EmbedTokenRevoked``). From the cache when it holds the member;
    otherwise from a read session, opened here and closed by ``close()``."""

    def __init__(self, request: Request, claims: EmbedClaims) -> None:
        self.request = request
        self.claims = claims
        self.cache: DashboardCache = request.app.state.dashboards
        self.cached: Board | None = self.cache.get(claims)
        self._session: AsyncSession | None = None
        self._service: EmbedService | None = None
        self._read_at = 0
        self._program: Program | None = None

    def _open(self) -> EmbedService:
        if self._service is None:
            sessions: SessionFactory = self.request.app.state.sessions
            self._read_at = self.cache.generation  # before the first read
            self._session = sessions(write=False)
            self._service = embed_service(self.request, self._session)
        return self._service

    async def program(self) -> ProgramLook | None:
        if self.cached is not None:
            return self.cached.program
        self._program = await self._open().program_of(self.claims)
        if self._program is None:
            return None
        return ProgramLook(list(self._program.allowed_origins), dict(self._program.embed or {}))

    async def board(self) -> Board:
        if self.cached is not None:
            check_unexpired(self.claims)
            return self.cached
        service = self._open()
        viewer = await service.open(self.claims, program=self._program)
        program = viewer.program
        board = Board.of(
            await service.dashboard(viewer),
            self.claims,
            ProgramLook(list(program.allowed_origins), dict(program.embed or {})),
        )
        self.cache.put(board, read_at=self._read_at)
        return board

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def limit_token(request: Request, claims: EmbedClaims) -> None:
    """The per-token request limit (page views and API reads share it)."""
    settings: Settings = request.app.state.settings
    if not settings.rate_limit_enabled:
        return
    limiter: RateLimiter = request.app.state.limiter
    decision = await limiter.hit(f"embed_{claims.token_id}", settings.embed_rate_limit_per_minute)
    if decision is None:
        return
    request.state.rate_limit = decision
    if not decision.allowed:
        retry = str(max(1, decision.reset_after))
        raise RateLimited(
            f"This embed token may make {decision.limit} requests a minute; retry in {retry} s.",
            headers={"Retry-After": retry},
        )


def cors_headers(origin: str | None, allowed: list[str]) -> dict[str, str]:
    headers = {"Vary": "Origin"}
    if origin and origin.lower() in allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return headers


@router.post(
    "/members/{member_id}/embed-token",
    summary="Create a short-lived embed token for a member's referrer dashboard",
    description=(
        "Call from your backend each time you show the dashboard; give the browser only the "
        "token (or `url`). Read-only, bound to this member, revoked when the member is "
        "disabled or deleted."
    ),
    responses=problems(404, 422),
)
async def create_member_embed_token(
    member_id: str,
    request: Request,
    principal: WritePrincipal,
    session: Session,
    body: Annotated[EmbedTokenCreate | None, Body()] = None,
) -> EmbedToken:
    ttl = (body or EmbedTokenCreate()).expires_in_seconds
    return await embed_service(request, session).issue_for_member(principal, member_id, ttl)


@router.post(
    "/programs/{program_id}/embed-token",
    summary="Create or fetch a member and answer its embed token, in one call",
    description=(
        "The member is created or fetched by `email` and/or `external_id` exactly as "
        "`POST /programs/{program_id}/members` does; the answer adds the member and its token."
    ),
    responses=problems(404, 409, 422),
)
async def create_program_embed_token(
    program_id: str,
    body: ProgramEmbedTokenCreate,
    request: Request,
    principal: WritePrincipal,
    session: Session,
) -> ProgramEmbedToken:
    token, result = await embed_service(request, session).issue_for_program(
        principal, program_id, body.member(), body.expires_in_seconds
    )
    return ProgramEmbedToken(
        **token.model_dump(),
        member=member_out(request, result.member),
        member_created=result.created,
    )


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationRequired("Send the embed token as `Authorization: Bearer rke1…`.")
    return value.strip()


@router.get(
    "/embed/me",
    summary="The embedded dashboard's data, for the member of an embed token",
    description=(
        "Authenticate with the embed token (`Authorization: Bearer rke1…`), not an API key. "
        "CORS answers the program's `allowed_origins`. An expired or revoked token answers 401 "
        "(`embed_token_expired`, `embed_token_revoked`): fetch a new one from your backend."
    ),
    response_model=EmbedMe,
    responses=problems(401, 429),
    openapi_extra={"security": [{"EmbedToken": []}]},
)
async def get_embed_me(request: Request) -> Response:
    allowed: list[str] = []
    view: TokenView | None = None
    try:
        claims = verify_token(request, _bearer(request))
        view = TokenView(request, claims)
        program = await view.program()
        allowed = program.allowed_origins if program else []
        await limit_token(request, claims)
        board = await view.board()
        expires_at = _EXPIRES_AT.dump_python(claims.expires_at_datetime, mode="json")
        data = {**board.payload, "expires_at": expires_at}
        response = Response(dumps(data), media_type="application/json")
    except ReferkitError as exc:
        response = error_response(exc)
        if isinstance(exc, EmbedTokenError | AuthenticationRequired):
            response.headers["WWW-Authenticate"] = 'Bearer realm="referkit-embed"'
    finally:
        if view is not None:
            await view.close()
    response.headers.update(cors_headers(request.headers.get("origin"), allowed))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.options("/embed/me", include_in_schema=False)
async def preflight_embed_me(request: Request) -> Response:
    origin = request.headers.get("origin")
    headers = {"Vary": "Origin", "Access-Control-Max-Age": "600"}
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Methods"] = "GET"
        headers["Access-Control-Allow-Headers"] = "Authorization"
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=headers)


# Routes are matched in the order they were added, and ``/api/v1/embed/me`` is added after
# every other API path (which keeps its place in the API reference): trying each of them first
# cost as much as answering the request. The app mounts this router ahead of the API router, so
# the dashboard's reads match at once; the route above stays the documented one.
early_router = APIRouter(prefix="/api/v1", include_in_schema=False)
early_router.add_api_route("/embed/me", get_embed_me, methods=["GET"])
