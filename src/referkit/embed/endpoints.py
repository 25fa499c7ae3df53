"""Embed API: the two token calls (full-scope API keys) and ``/embed/me`` (an embed token).

``/embed/me`` is called from the host page's browser, so it answers CORS for the program's
``allowed_origins``. A preflight carries no token, so it cannot know the program: it lets any
origin *send* the read-only GET, and the real answer is readable only by an allowed origin
(``Access-Control-Allow-Origin`` is set on it only then), which is what keeps the data safe.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response, status

from referkit.auth.dependencies import Session, WritePrincipal
from referkit.config import Settings
from referkit.embed.exceptions import EmbedTokenError
from referkit.embed.schemas import (
    EmbedMe,
    EmbedToken,
    EmbedTokenCreate,
    ProgramEmbedToken,
    ProgramEmbedTokenCreate,
)
from referkit.embed.service import EmbedService
from referkit.embed.tokens import EmbedClaims
from referkit.errors import AuthenticationRequired, RateLimited, ReferkitError, error_response
from referkit.kit.json import dumps
from referkit.kit.ratelimit import RateLimiter
from referkit.member.endpoints import member_out
from referkit.openapi import problems

router = APIRouter(tags=["Embedded dashboard"])
EXPOSED_HEADERS = "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"


def embed_service(request: Request, session: Session) -> EmbedService:
    settings: Settings = request.app.state.settings
    return EmbedService(session, signing_key=settings.signing_key, base_url=settings.base_url)


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
async def get_embed_me(request: Request, session: Session) -> Response:
    service = embed_service(request, session)
    allowed: list[str] = []
    try:
        claims = service.verify(_bearer(request))
        program = await service.program_of(claims)
        allowed = program.allowed_origins if program else []
        await limit_token(request, claims)
        data = await service.dashboard(await service.open(claims, program=program))
        response = Response(dumps(data.model_dump(mode="json")), media_type="application/json")
    except ReferkitError as exc:
        response = error_response(exc)
        if isinstance(exc, EmbedTokenError | AuthenticationRequired):
            response.headers["WWW-Authenticate"] = 'Bearer realm="referkit-embed"'
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
