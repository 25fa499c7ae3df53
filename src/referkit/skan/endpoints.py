"""``GET|PUT /api/v1/apps/{app_id}/skan``, ``GET …/skan/value`` and Apple's
``POST /api/skan/postback`` (no key: Apple's devices post it; limited per IP)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal, current_principal
from referkit.auth.principal import Access, Principal
from referkit.config import Settings
from referkit.db.session import APIRouter
from referkit.errors import InsufficientScope, RateLimited, Unprocessable
from referkit.kit.net import client_ip
from referkit.kit.ratelimit import RateLimiter
from referkit.openapi import problems
from referkit.skan.schemas import PostbackAck, SkanSchema, SkanSchemaInput, SkanValue
from referkit.skan.service import SkanService
from referkit.skan.verify import PostbackInvalid

router = APIRouter(prefix="/apps", tags=["SKAdNetwork"])
postback_router = APIRouter(tags=["SKAdNetwork"])


@router.get(
    "/{app_id}/skan",
    summary="The app's SKAdNetwork / AdAttributionKit conversion-value schema (newest version)",
    responses=problems(404),
)
async def get_skan_schema(app_id: str, principal: ReadPrincipal, session: Session) -> SkanSchema:
    return await SkanService(session).get_schema(principal, app_id)


@router.put(
    "/{app_id}/skan",
    summary="Replace the conversion-value schema (kept as a new version)",
    description="Fine values 0-63 (window 1) and coarse low/medium/high (windows 1-3), each "
    "defined by an event, counts and a revenue range; lock rules per window. A 422 names every "
    "bad rule: values out of range or repeated, overlapping rules, revenue gaps.",
    responses=problems(404, 422),
)
async def put_skan_schema(
    app_id: str, body: SkanSchemaInput, principal: WritePrincipal, session: Session
) -> SkanSchema:
    return await SkanService(session).put_schema(principal, app_id, body)


async def value_principal(
    app_id: str, principal: Annotated[Principal, Depends(current_principal)]
) -> Principal:
    """Readers and the app itself (its client key ``pk_app_…``, for this app only)."""
    if principal.app_id is not None:
        if principal.app_id != app_id:
            raise InsufficientScope(f"This client key belongs to app {principal.app_id}.")
        return principal
    if not principal.allows(Access.read):
        raise InsufficientScope("Reading a conversion value needs read access.")
    return principal


@router.get(
    "/{app_id}/skan/value",
    summary="The conversion value (fine, coarse, lock) the app should set now",
    description="Computed from the install's events since install with the newest schema. "
    "Accepts the app's client key.",
    responses=problems(404, 422),
)
async def skan_value(
    app_id: str,
    principal: Annotated[Principal, Depends(value_principal)],
    session: Session,
    install_id: Annotated[str, Query(min_length=1, max_length=40)],
) -> SkanValue:
    return await SkanService(session).value(principal, app_id, install_id)


async def _limit_ip(request: Request) -> None:
    settings: Settings = request.app.state.settings
    if not settings.rate_limit_enabled or not settings.skan_postback_rate_limit_per_minute:
        return
    limiter: RateLimiter = request.app.state.limiter
    ip = client_ip(request.scope, settings.trusted_networks) or "unknown"
    decision = await limiter.hit(
        f"skan_postback@{ip}", settings.skan_postback_rate_limit_per_minute
    )
    if decision is None:
        return
    request.state.rate_limit = decision
    if not decision.allowed:
        retry = str(max(1, decision.reset_after))
        raise RateLimited(
            f"At most {decision.limit} postbacks a minute from one address; retry in {retry} s.",
            headers={"Retry-After": retry},
        )


async def _body(request: Request) -> Any:
    raw = (await request.body()).decode("utf-8", "replace").strip()
    if raw.startswith("{"):
        try:
            return json.loads(raw)
        except ValueError:
            pass
        raise Unprocessable(
            "The body is not valid JSON.",
            errors=[
                {"field": "body", "in": "body", "message": "invalid JSON", "type": "json_invalid"}
            ],
        )
    return raw


@postback_router.post(
    "/api/skan/postback",
    summary="Receive an Apple postback (SKAdNetwork 2.2-4 JSON or AdAttributionKit JWS)",
    description="No API key: Apple's devices post here. The signature is verified with "
    "Apple's published keys; the postback is kept either way, deduplicated on its transaction "
    "id, decoded with the app's schema, and counted only when verified. Answers 200 so Apple "
    "stops retrying.",
    dependencies=[Depends(_limit_ip)],
    responses=problems(422, 429),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/plain": {"schema": {"type": "string", "description": "A compact JWS."}},
            },
        }
    },
)
@postback_router.post(
    "/.well-known/skadnetwork/report-attribution/",
    include_in_schema=False,
    dependencies=[Depends(_limit_ip)],
)
@postback_router.post(
    "/.well-known/appattribution/report-attribution/",
    include_in_schema=False,
    dependencies=[Depends(_limit_ip)],
)
async def receive_postback(request: Request, session: Session) -> PostbackAck:
    """Also at the paths Apple's devices post developer copies to, when the app's
    ``NSAdvertisingAttributionReportEndpoint`` / ``AttributionCopyEndpoint`` is this host."""
    settings: Settings = request.app.state.settings
    body = await _body(request)
    try:
        return await SkanService(session).receive(body, settings.skan_public_keys)
    except PostbackInvalid as problem:
        raise Unprocessable(
            str(problem),
            errors=[
                {"field": "body", "in": "body", "message": str(problem), "type": "value_error"}
            ],
        ) from None
