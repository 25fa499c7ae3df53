from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, status

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.db.session import APIRouter
from referkit.kit.json import loads
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.models import WebhookEndpoint as EndpointRow
from referkit.openapi import problems
from referkit.webhook.schemas import (
    EventType,
    Hook,
    HookCreate,
    MessageStatus,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
    WebhookMessage,
    WebhookSecret,
)
from referkit.webhook.service import ENCRYPTION_PURPOSE, MessageLog, WebhookService

router = APIRouter(prefix="/webhooks", tags=["Webhooks"])
hooks_router = APIRouter(prefix="/hooks", tags=["Webhooks"])


def webhook_service(request: Request, session: Any) -> WebhookService:
    state = request.app.state
    return WebhookService(
        session,
        allow_private=state.settings.webhook_allow_private_targets,
        secrets=state.settings.keyring.box(ENCRYPTION_PURPOSE),
        resolver=state.resolver,
    )


def endpoint_out(row: EndpointRow) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id,
        url=row.url,
        events=row.event_types,
        description=row.description,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        source=row.source,
        livemode=row.livemode,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def message_out(log: MessageLog) -> WebhookMessage:
    m = log.message
    return WebhookMessage(
        id=m.id,
        endpoint_id=m.endpoint_id,
        event_type=m.event_type,
        status=MessageStatus(m.status),
        payload=loads(m.body),
        attempt_count=m.attempt_count,
        next_attempt_at=m.next_attempt_at,
        delivered_at=m.delivered_at,
        livemode=m.livemode,
        created_at=m.created_at,
        attempts=[WebhookAttempt.model_validate(a) for a in log.attempts],
    )


@router.get("", summary="List webhook endpoints", responses=problems(422))
async def list_webhooks(
    principal: ReadPrincipal,
    session: Session,
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[WebhookEndpoint]:
    rows, meta = await webhook_service(request, session).list_endpoints(principal, page)
    return Page[WebhookEndpoint](data=[endpoint_out(r) for r in rows], meta=meta)


@router.post(
    "",
    summary="Create a webhook endpoint (answers its signing secret once)",
    status_code=status.HTTP_201_CREATED,
    responses=problems(422),
)
async def create_webhook(
    body: WebhookEndpointCreate, principal: WritePrincipal, session: Session, request: Request
) -> WebhookEndpointWithSecret:
    created = await webhook_service(request, session).create(principal, body)
    return WebhookEndpointWithSecret(
        **endpoint_out(created.endpoint).model_dump(), secret=created.secret
    )


@router.get("/{webhook_id}", summary="Get a webhook endpoint", responses=problems(404))
async def get_webhook(
    webhook_id: str, principal: ReadPrincipal, session: Session, request: Request
) -> WebhookEndpoint:
    return endpoint_out(await webhook_service(request, session).get(principal, webhook_id))


@router.patch(
    "/{webhook_id}",
    summary="Update a webhook endpoint (enabling it resumes pending messages)",
    responses=problems(404, 422),
)
async def update_webhook(
    webhook_id: str,
    body: WebhookEndpointUpdate,
    principal: WritePrincipal,
    session: Session,
    request: Request,
) -> WebhookEndpoint:
    return endpoint_out(await webhook_service(request, session).update(principal, webhook_id, body))


@router.delete(
    "/{webhook_id}",
    summary="Delete a webhook endpoint and its delivery log",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(404),
)
async def delete_webhook(
    webhook_id: str, principal: WritePrincipal, session: Session, request: Request
) -> None:
    await webhook_service(request, session).delete(principal, webhook_id)


@router.post(
    "/{webhook_id}/test",
    summary="Send a webhook.test message",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(404),
)
async def test_webhook(
    webhook_id: str, principal: WritePrincipal, session: Session, request: Request
) -> WebhookMessage:
    return message_out(await webhook_service(request, session).send_test(principal, webhook_id))


@router.post(
    "/{webhook_id}/rotate-secret",
    summary="Rotate the signing secret (the old one also signs for 24 hours)",
    responses=problems(404),
)
async def rotate_webhook_secret(
    webhook_id: str, principal: WritePrincipal, session: Session, request: Request
) -> WebhookSecret:
    rotated = await webhook_service(request, session).rotate_secret(principal, webhook_id)
    expires = rotated.endpoint.previous_secret_expires_at
    assert expires is not None
    return WebhookSecret(secret=rotated.secret, previous_secret_expires_at=expires)


@router.get(
    "/{webhook_id}/messages",
    summary="The delivery log: messages with every attempt, newest first",
    responses=problems(404, 422),
)
async def list_webhook_messages(
    webhook_id: str,
    principal: ReadPrincipal,
    session: Session,
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[MessageStatus | None, Query(description="Only this status.")] = None,
    type: Annotated[EventType | None, Query(description="Only this event type.")] = None,
) -> Page[WebhookMessage]:
    logs, meta = await webhook_service(request, session).messages(
        principal, webhook_id, page, status=status, event_type=type.value if type else None
    )
    return Page[WebhookMessage](data=[message_out(log) for log in logs], meta=meta)


@router.post(
    "/messages/{message_id}/retry",
    summary="Deliver a message again now",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(404),
)
async def retry_webhook_message(
    message_id: str, principal: WritePrincipal, session: Session, request: Request
) -> WebhookMessage:
    return message_out(await webhook_service(request, session).retry(principal, message_id))


# Zapier REST Hooks ---------------------------------------------------------------------------


@hooks_router.post(
    "",
    summary="Subscribe a REST hook (Zapier): one event type to one target URL",
    status_code=status.HTTP_201_CREATED,
    responses=problems(422),
)
async def subscribe_hook(
    body: HookCreate, principal: WritePrincipal, session: Session, request: Request
) -> Hook:
    created = await webhook_service(request, session).create(
        principal,
        WebhookEndpointCreate(url=body.target_url, events=[body.event.value], description="Zapier"),
        source="zapier",
    )
    row = created.endpoint
    return Hook(id=row.id, target_url=row.url, event=body.event.value)


@hooks_router.get(
    "/samples/{event}",
    summary="Recent real objects for an event type (Zapier's sample step)",
    responses=problems(404),
)
async def hook_samples(
    event: str, principal: ReadPrincipal, session: Session, request: Request
) -> list[Any]:
    return await webhook_service(request, session).samples(principal, event)


@hooks_router.delete(
    "/{hook_id}",
    summary="Unsubscribe a REST hook",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(404),
)
async def unsubscribe_hook(
    hook_id: str, principal: WritePrincipal, session: Session, request: Request
) -> None:
    await webhook_service(request, session).delete(principal, hook_id)
