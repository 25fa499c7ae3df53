"""Links: create tracking links (UTM, platform URLs), download QR codes, see a link's clicks."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from referkit.dashboard.charts import line_chart
from referkit.dashboard.pages.common import page, programs_of, text
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
from referkit.kit.time import utcnow
from referkit.link.endpoints import links_out, short_url
from referkit.link.schemas import LinkCreate, QrFormat
from referkit.link.service import LinkService
from referkit.stats.service import StatsService

router = APIRouter(prefix=f"{PREFIX}/links", route_class=DashboardRoute, include_in_schema=False)
LinkId = Annotated[str, Path(max_length=40)]
Text = Annotated[str | None, Query(max_length=200)]
CHART_DAYS = 30
QR_TYPES = {QrFormat.svg: "image/svg+xml", QrFormat.png: "image/png"}


@router.get("")
async def links(
    request: Request, session: Session, viewer: CurrentViewer, q: Text = None, cursor: Text = None
) -> Response:
    return await _list(request, session, viewer, q, cursor)


async def _list(
    request: Request,
    session: Session,
    viewer: Viewer,
    q: str | None = None,
    cursor: str | None = None,
    error: str | None = None,
) -> Response:
    rows, meta = await LinkService(session).list(
        viewer.principal, page(cursor), program_id=None, member_id=None, q=q or None
    )
    return render(
        request,
        "links.html",
        {
            "title": "Links",
            "links": await links_out(request, session, rows),
            "meta": meta,
            "q": q or "",
            "programs": await programs_of(session, viewer.principal),
            "error": error,
            "base": f"{PREFIX}/links" + (f"?q={q}" if q else ""),
        },
        status_code=422 if error else 200,
    )


@router.post("")
async def create_link(request: Request, session: Session, viewer: AdminViewer) -> Response:
    form = await form_data(request)
    utm = {
        name: text(form, f"utm_{name}")
        for name in ("source", "medium", "campaign", "term", "content")
    }
    body = {
        "code": text(form, "code"),
        "destination_url": text(form, "destination_url"),
        "program_id": text(form, "program_id"),
        "member_id": text(form, "member_id"),
        "ios_url": text(form, "ios_url"),
        "android_url": text(form, "android_url"),
        "utm": {k: v for k, v in utm.items() if v},
    }
    try:
        async with session.begin_nested():  # a refusal leaves nothing behind
            link = await LinkService(session).create(
                viewer.principal,
                LinkCreate.model_validate({k: v for k, v in body.items() if v is not None}),
            )
    except ValidationError as exc:
        return await _list(request, session, viewer, error="; ".join(describe_errors(exc)))
    except ReferkitError as exc:
        return await _list(request, session, viewer, error=exc.detail)
    return redirect(request, f"{PREFIX}/links/{link.id}", "Link created.")


@router.get("/{link_id}")
async def link_page(
    request: Request, session: Session, viewer: CurrentViewer, link_id: LinkId
) -> Response:
    link = await LinkService(session).get(viewer.principal, link_id)
    (shown,) = await links_out(request, session, [link])
    today = utcnow().date()
    days = [today - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]
    per_day = await StatsService(session).link_clicks_by_day(
        viewer.principal, link.id, days[0], today
    )
    chart = line_chart(
        f"Clicks in the last {CHART_DAYS} days", days, [per_day.get(d, 0) for d in days], []
    )
    return render(
        request, "link.html", {"title": f"Link {link.code}", "link": shown, "chart": chart}
    )


@router.get("/{link_id}/qr.{fmt}")
async def qr(
    request: Request, session: Session, viewer: CurrentViewer, link_id: LinkId, fmt: QrFormat
) -> Response:
    service = LinkService(session)
    link = await service.get(viewer.principal, link_id)
    image = await service.qr(viewer.principal, link.id, short_url(request, link.code), fmt, 8)
    disposition = (
        f'attachment; filename="{link.code}.{fmt.value}"'
        if "download" in request.query_params
        else "inline"
    )
    return Response(
        image,
        media_type=QR_TYPES[fmt],
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )
