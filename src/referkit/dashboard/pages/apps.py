"""Apps: the list, create and edit (store ids, universal/app link settings, attribution
windows).

The form becomes the API's own ``AppCreate`` / ``AppUpdate`` and goes to the app service, so
every rule about apps is checked there, once. The app's own page (KPIs, stats, links,
installs, client keys) is ``app_detail.py``; its integrations and SKAN pages have modules of
their own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from referkit.dashboard.pages.common import Form, lines, number, page, text
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
from referkit.mobile.schemas import AppCreate, AppUpdate, AttributionSettings
from referkit.mobile.service import AppService, app_settings
from referkit.models import App

router = APIRouter(prefix=f"{PREFIX}/apps", route_class=DashboardRoute, include_in_schema=False)
AppId = Annotated[str, Path(max_length=40)]
Text = Annotated[str | None, Query(max_length=200)]
PLATFORM_FIELDS = {
    "ios": ("bundle_id", "app_store_id", "team_id", "store_url"),
    "android": ("package", "store_url"),
    "web": ("url",),
}


def _platform(form: Form, name: str) -> dict[str, Any] | None:
    """One platform's settings from the form; None when every field was left empty."""
    values: dict[str, Any] = {f: text(form, f"{name}_{f}") for f in PLATFORM_FIELDS[name]}
    if name == "android":
        values["sha256_cert_fingerprints"] = lines(form, "android_fingerprints")
    if not any(values.values()):
        return None
    return values


def app_body(form: Form) -> dict[str, Any]:
    """The app settings of the form, shaped as the API's JSON body (empty fields are null, so
    an edit clears them)."""
    defaults = AttributionSettings()
    return {
        "name": text(form, "name") or "",
        "platforms": {name: _platform(form, name) for name in PLATFORM_FIELDS},
        "deep_link_scheme": text(form, "deep_link_scheme"),
        "link_domain": text(form, "link_domain"),
        "attribution": {
            "click_window_days": _or(
                number(form, "click_window_days", "Click window"), defaults.click_window_days
            ),
            "probabilistic_window_hours": _or(
                number(form, "probabilistic_window_hours", "Probabilistic window"),
                defaults.probabilistic_window_hours,
            ),
            "reattribution_window_days": _or(
                number(form, "reattribution_window_days", "Reattribution window"),
                defaults.reattribution_window_days,
            ),
        },
    }


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def values_of(app: App) -> dict[str, Any]:
    """A stored app as form values."""
    return {
        "name": app.name,
        "platforms": app.platforms,
        "deep_link_scheme": app.deep_link_scheme,
        "link_domain": app.link_domain,
        "attribution": app_settings(app).model_dump(),
    }


@router.get("")
async def apps(
    request: Request, session: Session, viewer: CurrentViewer, cursor: Text = None
) -> Response:
    rows, meta = await AppService(session).list(viewer.principal, page(cursor))
    return render(
        request,
        "apps.html",
        {"title": "Apps", "apps": rows, "meta": meta, "base": f"{PREFIX}/apps"},
    )


def _form(
    request: Request, app: App | None, values: dict[str, Any], error: str | None = None
) -> Response:
    return render(
        request,
        "app_form.html",
        {
            "title": f"Edit {app.name}" if app else "New app",
            "app": app,
            "v": values,
            "error": error,
            "tab": "edit",
        },
        status_code=422 if error else 200,
    )


@router.get("/new")
async def new_app(request: Request, viewer: CurrentViewer) -> Response:
    return _form(request, None, {"attribution": AttributionSettings().model_dump()})


@router.post("/new")
async def create_app(request: Request, session: Session, viewer: AdminViewer) -> Response:
    form = await form_data(request)
    try:
        body = app_body(form)
        body["platforms"] = {k: v for k, v in body["platforms"].items() if v is not None}
        async with session.begin_nested():  # a refusal leaves nothing behind
            app = await AppService(session).create(viewer.principal, AppCreate.model_validate(body))
    except ValidationError as exc:
        return _form(request, None, app_body_safe(form), "; ".join(describe_errors(exc)))
    except ReferkitError as exc:
        return _form(request, None, app_body_safe(form), exc.detail)
    return redirect(request, f"{PREFIX}/apps/{app.id}", "App created.")


def app_body_safe(form: Form) -> dict[str, Any]:
    """The form's values to show again after a refusal (numbers that did not parse as text)."""
    try:
        return app_body(form)
    except ReferkitError:
        return {"name": text(form, "name") or "", "attribution": {}}


@router.get("/{app_id}/edit")
async def edit_app(
    request: Request, session: Session, viewer: CurrentViewer, app_id: AppId
) -> Response:
    app = await AppService(session).get(viewer.principal, app_id)
    return _form(request, app, values_of(app))


@router.post("/{app_id}/edit")
async def update_app(
    request: Request, session: Session, viewer: AdminViewer, app_id: AppId
) -> Response:
    service = AppService(session)
    app = await service.get(viewer.principal, app_id)
    form = await form_data(request)
    try:
        body = AppUpdate.model_validate(app_body(form))
        async with session.begin_nested():
            await service.update(viewer.principal, app.id, body)
    except ValidationError as exc:
        return _form(request, app, app_body_safe(form), "; ".join(describe_errors(exc)))
    except ReferkitError as exc:
        return _form(request, app, app_body_safe(form), exc.detail)
    return redirect(request, f"{PREFIX}/apps/{app.id}", "App saved.")
