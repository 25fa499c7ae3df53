"""An app's ad-network integrations: settings per network (credentials are write-only: the
page says which are stored, never their values), the event map, enable/disable, the dry run
that shows the exact request without sending it, and the forwarding log with a retry button.

Each form becomes the API's ``IntegrationsUpdate`` for one network and goes to the integration
service, which checks and seals it exactly as for ``PUT …/integrations``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from referkit.dashboard.pages.common import Form, checked, lines, page, text
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
    settings_of,
)
from referkit.errors import ReferkitError, Unprocessable
from referkit.integration import networks
from referkit.integration.endpoints import base_urls, integration_service
from referkit.integration.schemas import IntegrationsUpdate, Network, SendMode
from referkit.integration.service import OPTIONAL_CONFIG, DryRunResult
from referkit.mobile.service import AppService

router = APIRouter(prefix=f"{PREFIX}/apps", route_class=DashboardRoute, include_in_schema=False)
AppId = Annotated[str, Path(max_length=40)]
NetworkName = Annotated[Network, Path()]
Text = Annotated[str | None, Query(max_length=200)]
LABELS = {
    "meta": "Meta (Conversions API)",
    "google_ads": "Google Ads (click conversions)",
    "tiktok": "TikTok (Events API)",
    "postback": "Postback URL",
}


def _fields(network: str) -> dict[str, tuple[str, ...]]:
    return {
        "config": networks.CONFIG_FIELDS[network] + OPTIONAL_CONFIG.get(network, ()),
        "credentials": networks.CREDENTIAL_FIELDS[network],
    }


async def _page(
    request: Request,
    session: Session,
    viewer: Viewer,
    app_id: str,
    *,
    error: tuple[str, str] | None = None,
    dry_run: DryRunResult | None = None,
) -> Response:
    app = await AppService(session).get(viewer.principal, app_id)
    service = integration_service(request, session)
    rows = await service.all(app)
    return render(
        request,
        "app_integrations.html",
        {
            "title": f"{app.name}: integrations",
            "app": app,
            "tab": "integrations",
            "integrations": [
                {
                    "row": row,
                    "label": LABELS[row.network],
                    "fields": _fields(row.network),
                    "stored": service.credential_names(row),
                    "configured": bool(row.id),
                }
                for row in rows
            ],
            "sends": list(SendMode),
            "error": error,
            "dry_run": dry_run,
            "dry_request": _pretty(dry_run.request) if dry_run and dry_run.request else None,
        },
        status_code=422 if error else 200,
    )


def _pretty(request: dict[str, Any]) -> dict[str, Any]:
    """The dry run's request with a JSON body indented (other bodies as sent)."""
    body = request.get("body")
    if isinstance(body, str):
        with contextlib.suppress(ValueError):  # not JSON: shown as sent
            body = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    return {**request, "body": body}


@router.get("/{app_id}/integrations")
async def integrations(
    request: Request, session: Session, viewer: CurrentViewer, app_id: AppId
) -> Response:
    return await _page(request, session, viewer, app_id)


def _event_map(form: Form) -> dict[str, str]:
    out = {}
    for line in lines(form, "event_map"):
        ours, sep, theirs = line.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise Unprocessable(f"Event map line {line!r} is not ours=theirs.")
        out[ours.strip()] = theirs.strip()
    return out


def _change(form: Form, network: str) -> dict[str, Any]:
    """One network's settings from its form. A credential field left empty keeps the stored
    value; its "remove" box removes it (the service drops empty credentials)."""
    fields = _fields(network)
    credentials = {}
    for name in fields["credentials"]:
        value = text(form, f"credential_{name}")
        if value is not None:
            credentials[name] = value
        elif checked(form, f"clear_{name}"):
            credentials[name] = ""
    change: dict[str, Any] = {
        "network": network,
        "enabled": checked(form, "enabled"),
        "send": text(form, "send") or "attributed",
        "config": {
            name: value for name in fields["config"] if (value := text(form, f"config_{name}"))
        },
        "event_map": _event_map(form),
    }
    if credentials:
        change["credentials"] = credentials
    return change


@router.post("/{app_id}/integrations/{network}")
async def save_integration(
    request: Request, session: Session, viewer: AdminViewer, app_id: AppId, network: NetworkName
) -> Response:
    app = await AppService(session).get(viewer.principal, app_id)
    form = await form_data(request)
    try:
        body = IntegrationsUpdate.model_validate({"data": [_change(form, network.value)]})
        async with session.begin_nested():  # a refusal leaves nothing behind
            await integration_service(request, session).update(app, body)
    except ValidationError as exc:
        error = (network.value, "; ".join(describe_errors(exc)))
        return await _page(request, session, viewer, app.id, error=error)
    except ReferkitError as exc:
        return await _page(request, session, viewer, app.id, error=(network.value, exc.detail))
    return redirect(
        request,
        f"{PREFIX}/apps/{app.id}/integrations#{network.value}",
        f"{LABELS[network.value]} saved.",
    )


@router.post("/{app_id}/integrations/{network}/enabled")
async def switch_integration(
    request: Request, session: Session, viewer: AdminViewer, app_id: AppId, network: NetworkName
) -> Response:
    app = await AppService(session).get(viewer.principal, app_id)
    enabled = text(await form_data(request), "enabled") == "on"
    body = IntegrationsUpdate.model_validate(
        {"data": [{"network": network.value, "enabled": enabled}]}
    )
    await integration_service(request, session).update(app, body)
    state = "enabled" if enabled else "disabled"
    return redirect(
        request,
        f"{PREFIX}/apps/{app.id}/integrations#{network.value}",
        f"{LABELS[network.value]} {state}.",
    )


@router.post("/{app_id}/integrations/{network}/test")
async def dry_run(
    request: Request, session: Session, viewer: AdminViewer, app_id: AppId, network: NetworkName
) -> Response:
    """The request the worker would send for an event (the newest, or the one named): shown,
    never sent."""
    app = await AppService(session).get(viewer.principal, app_id)
    event = text(await form_data(request), "event_id")
    try:
        result = await integration_service(request, session).dry_run(
            viewer.principal, app, network.value, event, base_urls(settings_of(request))
        )
    except ReferkitError as exc:
        return await _page(request, session, viewer, app.id, error=(network.value, exc.detail))
    return await _page(request, session, viewer, app.id, dry_run=result)


@router.get("/{app_id}/integrations/{network}/log")
async def forwarding_log(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    app_id: AppId,
    network: NetworkName,
    cursor: Text = None,
) -> Response:
    app = await AppService(session).get(viewer.principal, app_id)
    log, meta = await integration_service(request, session).log(app, network.value, page(cursor))
    return render(
        request,
        "app_integration_log.html",
        {
            "title": f"{app.name}: {LABELS[network.value]} log",
            "app": app,
            "tab": "integrations",
            "network": network.value,
            "label": LABELS[network.value],
            "log": log,
            "meta": meta,
            "base": f"{PREFIX}/apps/{app.id}/integrations/{network.value}/log",
        },
    )


@router.post("/{app_id}/integrations/{network}/log/{forward_id}/retry")
async def retry_forward(
    request: Request,
    session: Session,
    viewer: AdminViewer,
    app_id: AppId,
    network: NetworkName,
    forward_id: Annotated[str, Path(max_length=40)],
) -> Response:
    app = await AppService(session).get(viewer.principal, app_id)
    await integration_service(request, session).retry(app, network.value, forward_id)
    return redirect(
        request,
        f"{PREFIX}/apps/{app.id}/integrations/{network.value}/log",
        "Forward queued for sending now.",
    )
