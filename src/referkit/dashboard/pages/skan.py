"""An app's SKAdNetwork / AdAttributionKit page: the conversion-value schema (its rules shown
as tables, edited as the API's JSON document; a refusal lists every bad rule by name) and the
postbacks received, verified or not, with the values decoded.

The schema goes to the skan service's ``put_schema``, which validates it exactly as
``PUT …/skan`` does and keeps each save as a new version.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from referkit.dashboard.charts import money
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
from referkit.errors import NotFound, ReferkitError
from referkit.mobile.service import AppService
from referkit.skan.schemas import SkanSchema, SkanSchemaInput
from referkit.skan.service import SkanService

router = APIRouter(prefix=f"{PREFIX}/apps", route_class=DashboardRoute, include_in_schema=False)
AppId = Annotated[str, Path(max_length=40)]
Text = Annotated[str | None, Query(max_length=200)]
EXAMPLE = SkanSchemaInput.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


def meaning(condition: dict[str, Any] | None) -> str:
    """A rule's condition in words: ``purchase at least 1 time, revenue USD 10.00 up to
    USD 50.00``."""
    if not condition:
        return "no rule has this value"
    count = condition.get("count") or {}
    low, high = count.get("min", 1), count.get("max")
    times = f"{low} to {high} times" if high is not None else f"at least {low} time"
    times += "" if high is not None or low == 1 else "s"
    out = f"{condition['event']} {times}"
    revenue = condition.get("revenue")
    if revenue:
        unit = revenue.get("currency", "")
        top = money(revenue["max"], unit) if revenue.get("max") is not None else "no limit"
        out += f", revenue {money(revenue.get('min', 0), unit)} up to {top}"
    return out


def _rule_text(rule: Any, currency: str) -> str:
    revenue = rule.revenue.model_dump() | {"currency": currency} if rule.revenue else None
    return meaning(
        {
            "event": rule.event,
            "count": {"min": rule.min_count, "max": rule.max_count},
            "revenue": revenue,
        }
    )


async def _page(
    request: Request,
    session: Session,
    viewer: Viewer,
    app_id: str,
    cursor: str | None = None,
    *,
    draft: str | None = None,
    errors: list[str] | None = None,
) -> Response:
    app = await AppService(session).get(viewer.principal, app_id)
    service = SkanService(session)
    schema: SkanSchema | None
    try:
        schema = await service.get_schema(viewer.principal, app.id)
    except NotFound:
        schema = None
    document = (
        schema.model_dump(mode="json", exclude={"app_id", "version", "created_at"})
        if schema
        else EXAMPLE
    )
    postbacks, meta = await service.list_postbacks(viewer.principal, app.id, page(cursor))
    return render(
        request,
        "app_skan.html",
        {
            "title": f"{app.name}: SKAN",
            "app": app,
            "tab": "skan",
            "schema": schema,
            "rule_text": _rule_text,
            "draft": draft if draft is not None else json.dumps(document, indent=2),
            "errors": errors,
            "postbacks": [
                {
                    "row": row,
                    "fine": meaning(((row.decoded or {}).get("fine") or {}).get("range"))
                    if row.fine_value is not None
                    else None,
                    "coarse": meaning(((row.decoded or {}).get("coarse") or {}).get("range"))
                    if row.coarse_value is not None
                    else None,
                }
                for row in postbacks
            ],
            "meta": meta,
            "base": f"{PREFIX}/apps/{app.id}/skan",
            "store_id": (app.platforms.get("ios") or {}).get("app_store_id"),
        },
        status_code=422 if errors else 200,
    )


@router.get("/{app_id}/skan")
async def skan_page(
    request: Request, session: Session, viewer: CurrentViewer, app_id: AppId, cursor: Text = None
) -> Response:
    return await _page(request, session, viewer, app_id, cursor)


@router.post("/{app_id}/skan")
async def save_schema(
    request: Request, session: Session, viewer: AdminViewer, app_id: AppId
) -> Response:
    app = await AppService(session).get(viewer.principal, app_id)
    draft = text(await form_data(request), "schema") or ""
    try:
        document = json.loads(draft)
    except ValueError as exc:
        problem = f"The schema is not valid JSON: {exc}."
        return await _page(request, session, viewer, app.id, draft=draft, errors=[problem])
    try:
        body = SkanSchemaInput.model_validate(document)
        async with session.begin_nested():  # a refusal leaves nothing behind
            saved = await SkanService(session).put_schema(viewer.principal, app.id, body)
    except ValidationError as exc:
        return await _page(
            request, session, viewer, app.id, draft=draft, errors=describe_errors(exc)
        )
    except ReferkitError as exc:
        named = [e["message"] for e in exc.extra.get("errors") or []]
        return await _page(
            request, session, viewer, app.id, draft=draft, errors=named or [exc.detail]
        )
    return redirect(
        request, f"{PREFIX}/apps/{app.id}/skan", f"Schema version {saved.version} saved."
    )
