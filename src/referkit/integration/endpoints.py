"""``/api/v1/apps/{app_id}/integrations…`` (API.md "Apps": integrations)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Request

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.config import Settings
from referkit.db.session import APIRouter
from referkit.integration.schemas import (
    DryRun,
    DryRunRequest,
    Forward,
    ForwardAttempt,
    Integration,
    Integrations,
    IntegrationsUpdate,
    Network,
)
from referkit.integration.service import (
    ENCRYPTION_PURPOSE,
    BaseUrls,
    ForwardLog,
    IntegrationService,
)
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.mobile.service import AppService
from referkit.models import Integration as IntegrationRow
from referkit.openapi import problems

router = APIRouter(prefix="/apps/{app_id}/integrations", tags=["Integrations"])


def integration_service(request: Request, session: Any) -> IntegrationService:
    """The service with this installation's sealing key, SSRF policy and resolver (the
    dashboard builds it the same way)."""
    state = request.app.state
    return IntegrationService(
        session,
        secrets=state.settings.keyring.box(ENCRYPTION_PURPOSE),
        allow_private=state.settings.webhook_allow_private_targets,
        resolver=state.resolver,
    )


def base_urls(settings: Settings) -> BaseUrls:
    """Where each network's requests go (settings, so tests use loopback receivers)."""
    return BaseUrls(settings.meta_base_url, settings.google_ads_base_url, settings.tiktok_base_url)


def _out(service: IntegrationService, rows: list[IntegrationRow]) -> Integrations:
    return Integrations(
        data=[
            Integration(
                network=Network(row.network),
                enabled=row.enabled,
                send=row.send,
                event_map=row.event_map,
                config=row.config,
                credentials_set=service.credential_names(row),
                updated_at=row.updated_at if row.id else None,
            )
            for row in rows
        ]
    )


def forward_out(log: ForwardLog) -> Forward:
    f = log.forward
    return Forward(
        id=f.id,
        network=Network(log.network),
        event_id=f.event_id,
        event_name=f.event_name,
        status=f.status,
        attempt_count=f.attempt_count,
        next_attempt_at=f.next_attempt_at,
        delivered_at=f.delivered_at,
        created_at=f.created_at,
        attempts=[ForwardAttempt.model_validate(a) for a in log.attempts],
    )


@router.get("", summary="List an app's ad-network integrations", responses=problems(404))
async def list_integrations(
    app_id: str, request: Request, principal: ReadPrincipal, session: Session
) -> Integrations:
    app = await AppService(session).get(principal, app_id)
    service = integration_service(request, session)
    return _out(service, await service.all(app))


@router.put("", summary="Configure an app's ad-network integrations", responses=problems(404, 422))
async def put_integrations(
    app_id: str,
    body: IntegrationsUpdate,
    request: Request,
    principal: WritePrincipal,
    session: Session,
) -> Integrations:
    app = await AppService(session).get(principal, app_id)
    service = integration_service(request, session)
    return _out(service, await service.update(app, body))


@router.get("/{network}/log", summary="An integration's forwarding log", responses=problems(404))
async def forwarding_log(
    app_id: str,
    network: Network,
    request: Request,
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[Forward]:
    app = await AppService(session).get(principal, app_id)
    logs, meta = await integration_service(request, session).log(app, network.value, page)
    return Page[Forward](data=[forward_out(log) for log in logs], meta=meta)


@router.post(
    "/{network}/log/{forward_id}/retry",
    summary="Send a forward again now",
    responses=problems(404),
)
async def retry_forward(
    app_id: str,
    network: Network,
    forward_id: str,
    request: Request,
    principal: WritePrincipal,
    session: Session,
) -> Forward:
    app = await AppService(session).get(principal, app_id)
    return forward_out(
        await integration_service(request, session).retry(app, network.value, forward_id)
    )


@router.post(
    "/{network}/test",
    summary="Show the exact request an event would be forwarded with (nothing is sent)",
    responses=problems(404),
)
async def dry_run(
    app_id: str,
    network: Network,
    request: Request,
    principal: WritePrincipal,
    session: Session,
    body: Annotated[DryRunRequest | None, Body()] = None,
) -> DryRun:
    app = await AppService(session).get(principal, app_id)
    settings = request.app.state.settings
    urls = base_urls(settings)
    result = await integration_service(request, session).dry_run(
        principal, app, network.value, body.event_id if body else None, urls
    )
    return DryRun(
        network=network,
        event_id=result.event_id,
        would_send=result.would_send,
        reason=result.reason,
        request=result.request,
    )
