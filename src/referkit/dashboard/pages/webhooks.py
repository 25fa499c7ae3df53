"""Webhooks: endpoints, their delivery log, retrying a message, rotating a signing secret
(the new secret is shown once), sending a test message."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from referkit.dashboard.pages.common import page, text
from referkit.dashboard.service import Viewer
from referkit.dashboard.web import (
    PREFIX,
    AdminViewer,
    CurrentViewer,
    DashboardRoute,
    Session,
    describe_errors,
    form_data,
    redirect,
    render,
)
from referkit.errors import ReferkitError
from referkit.webhook.endpoints import webhook_service
from referkit.webhook.schemas import EVENT_TYPES, MessageStatus, WebhookEndpointCreate
from referkit.webhook.service import WebhookService, WithSecret

router = APIRouter(prefix=f"{PREFIX}/webhooks", route_class=DashboardRoute, include_in_schema=False)
EndpointId = Annotated[str, Path(max_length=40)]
Text = Annotated[str | None, Query(max_length=200)]


def _service(request: Request, session: Session) -> WebhookService:
    return webhook_service(request, session)  # the API's: same SSRF checks, sealed secrets


@router.get("")
async def webhooks(
    request: Request, session: Session, viewer: CurrentViewer, cursor: Text = None
) -> Response:
    return await _list(request, session, viewer, cursor)


async def _list(
    request: Request,
    session: Session,
    viewer: Viewer,
    cursor: str | None = None,
    *,
    error: str | None = None,
    created: WithSecret | None = None,
) -> Response:
    rows, meta = await _service(request, session).list_endpoints(viewer.principal, page(cursor))
    return render(
        request,
        "webhooks.html",
        {
            "title": "Webhooks",
            "endpoints": rows,
            "meta": meta,
            "event_types": EVENT_TYPES,
            "error": error,
            "created": created,
            "base": f"{PREFIX}/webhooks",
        },
        status_code=422 if error else 200,
    )


@router.post("")
async def create_endpoint(request: Request, session: Session, viewer: AdminViewer) -> Response:
    form = await form_data(request)
    events = form.get("events") or ["*"]
    try:
        body = WebhookEndpointCreate.model_validate(
            {
                "url": text(form, "url") or "",
                "events": events,
                "description": text(form, "description"),
            }
        )
        endpoint = await _service(request, session).create(viewer.principal, body)
    except ValidationError as exc:
        return await _list(request, session, viewer, error="; ".join(describe_errors(exc)))
    except ReferkitError as exc:
        return await _list(request, session, viewer, error=exc.detail)
    # The signing secret is shown on this answer only (a reload shows the list without it).
    return await _list(request, session, viewer, created=endpoint)


@router.get("/{endpoint_id}")
async def endpoint_page(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    endpoint_id: EndpointId,
    status: Text = None,
    cursor: Text = None,
) -> Response:
    return await _endpoint(request, session, viewer, endpoint_id, status, cursor)


async def _endpoint(
    request: Request,
    session: Session,
    viewer: Viewer,
    endpoint_id: str,
    status: str | None = None,
    cursor: str | None = None,
    secret: str | None = None,
) -> Response:
    service = _service(request, session)
    endpoint = await service.get(viewer.principal, endpoint_id)
    chosen = MessageStatus(status) if status in set(MessageStatus) else None
    log, meta = await service.messages(
        viewer.principal, endpoint.id, page(cursor), status=chosen, event_type=None
    )
    return render(
        request,
        "webhook.html",
        {
            "title": f"Webhook {endpoint.url}",
            "endpoint": endpoint,
            "log": log,
            "meta": meta,
            "statuses": list(MessageStatus),
            "status": status or "",
            "secret": secret,
            "base": f"{PREFIX}/webhooks/{endpoint.id}" + (f"?status={status}" if chosen else ""),
        },
    )


@router.post("/{endpoint_id}/rotate")
async def rotate(
    request: Request, session: Session, viewer: AdminViewer, endpoint_id: EndpointId
) -> Response:
    rotated = await _service(request, session).rotate_secret(viewer.principal, endpoint_id)
    return await _endpoint(request, session, viewer, rotated.endpoint.id, secret=rotated.secret)


@router.post("/{endpoint_id}/test")
async def send_test(
    request: Request, session: Session, viewer: AdminViewer, endpoint_id: EndpointId
) -> Response:
    await _service(request, session).send_test(viewer.principal, endpoint_id)
    return redirect(request, f"{PREFIX}/webhooks/{endpoint_id}", "Test message queued.")


@router.post("/{endpoint_id}/retry/{message_id}")
async def retry(
    request: Request,
    session: Session,
    viewer: AdminViewer,
    endpoint_id: EndpointId,
    message_id: Annotated[str, Path(max_length=40)],
) -> Response:
    await _service(request, session).retry(viewer.principal, message_id)
    return redirect(request, f"{PREFIX}/webhooks/{endpoint_id}", "Message queued for delivery now.")
