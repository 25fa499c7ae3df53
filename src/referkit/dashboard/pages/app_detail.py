"""An app's page: KPIs and charts against the previous period, stats grouped by link, network
or campaign, the app's links (create one with its deep link; QR codes), recent installs with
how each was attributed, SKAN postbacks counted, and client keys (``pk_app_…``, shown once).

Everything is read through the mobile, link, event and skan services; app numbers come from
the app rollups, so the page costs the days shown, not the events stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from referkit.dashboard.pages.common import Form, lines, page, text
from referkit.dashboard.pages.overview import Metric
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
from referkit.errors import ReferkitError, Unprocessable
from referkit.event.schemas import EventType
from referkit.event.service import EventService
from referkit.kit.schemas import WholeNumber
from referkit.kit.time import utcnow
from referkit.link.endpoints import links_out
from referkit.link.schemas import LinkCreate
from referkit.link.service import LinkService
from referkit.mobile.schemas import AppStatsRow, ClientKeyCreate, GroupBy
from referkit.mobile.service import AppService
from referkit.mobile.stats import AppStatsService, previous
from referkit.models import App
from referkit.skan.service import SkanService

router = APIRouter(prefix=f"{PREFIX}/apps", route_class=DashboardRoute, include_in_schema=False)
AppId = Annotated[str, Path(max_length=40)]
Text = Annotated[str | None, Query(max_length=200)]
RANGES = (7, 30, 90)
GROUPS = (GroupBy.link, GroupBy.network, GroupBy.campaign)
INSTALLS_PAGE = 20
LINKS_PAGE = 20


def _money(row: AppStatsRow | Any, unit: str) -> int:
    return next((m.amount for m in row.revenue if m.currency == unit), 0)


def _main_currency(rows: list[AppStatsRow]) -> str:
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        for money in row.revenue:
            totals[money.currency] += money.amount
    return max(totals, key=lambda unit: totals[unit], default="")


async def _metrics(
    session: Session, viewer: Viewer, app: App, days: list[date]
) -> tuple[list[Metric], dict[str, str]]:
    """Charts of clicks, installs, events and revenue per day against the period before, and
    the conversion rate of both periods."""
    stats = AppStatsService(session)
    before = previous(days[0], days[-1])
    now_rows = (await stats.stats(viewer.principal, app.id, days[0], days[-1], GroupBy.day)).data
    then_rows = (await stats.stats(viewer.principal, app.id, *before, GroupBy.day)).data
    now = {date.fromisoformat(r.key): r for r in now_rows if r.key}
    then = {date.fromisoformat(r.key): r for r in then_rows if r.key}
    shift = timedelta(days=len(days))
    unit = _main_currency(now_rows + then_rows)
    metrics = []
    picks: list[tuple[str, Callable[[AppStatsRow], int]]] = [
        ("Clicks", lambda r: r.clicks),
        ("Installs", lambda r: r.installs),
        ("In-app events", lambda r: r.events),
    ]
    for name, pick in picks:
        metrics.append(
            Metric(
                name,
                [pick(now[d]) if d in now else 0 for d in days],
                [pick(then[d - shift]) if d - shift in then else 0 for d in days],
            )
        )
    metrics.append(
        Metric(
            "Revenue",
            [_money(now[d], unit) if d in now else 0 for d in days],
            [_money(then[d - shift], unit) if d - shift in then else 0 for d in days],
            unit=unit,
        )
    )
    rate = {
        label: _rate(sum(r.installs for r in rows), sum(r.clicks for r in rows))
        for label, rows in (("current", now_rows), ("previous", then_rows))
    }
    return metrics, rate


def _rate(installs: int, clicks: int) -> str:
    return f"{installs * 100 / clicks:.1f}%" if clicks else "—"


@router.get("/{app_id}")
async def app_overview(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    app_id: AppId,
    days: Annotated[int, WholeNumber, Query()] = 30,
    group: Text = None,
    links_cursor: Text = None,
    installs_cursor: Text = None,
) -> Response:
    return await app_page(
        request,
        session,
        viewer,
        app_id,
        days=days,
        group=group,
        links_cursor=links_cursor,
        installs_cursor=installs_cursor,
    )


async def app_page(
    request: Request,
    session: Session,
    viewer: Viewer,
    app_id: str,
    *,
    days: int = 30,
    group: str | None = None,
    links_cursor: str | None = None,
    installs_cursor: str | None = None,
    client_key: str | None = None,
    link_error: str | None = None,
    link_values: dict[str, Any] | None = None,
) -> Response:
    app = await AppService(session).get(viewer.principal, app_id)
    days = days if days in RANGES else 30
    chosen = GroupBy(group) if group in {g.value for g in GROUPS} else GroupBy.link
    today = utcnow().date()
    chart_days = [today - timedelta(days=days - 1 - i) for i in range(days)]
    metrics, rate = await _metrics(session, viewer, app, chart_days)
    grouped = await AppStatsService(session).stats(
        viewer.principal, app.id, chart_days[0], today, chosen
    )
    link_rows, link_meta = await LinkService(session).list(
        viewer.principal,
        page(links_cursor, LINKS_PAGE),
        program_id=None,
        member_id=None,
        q=None,
        app_id=app.id,
    )
    links = await links_out(request, session, link_rows)
    installs, install_meta = await EventService(session).list(
        viewer.principal,
        page(installs_cursor, INSTALLS_PAGE),
        type=EventType.install,
        app_id=app.id,
        program_id=None,
        customer_id=None,
        occurred_from=None,
        occurred_to=None,
    )
    base = f"{PREFIX}/apps/{app.id}?days={days}&group={chosen.value}"
    return render(
        request,
        "app.html",
        {
            "title": app.name,
            "app": app,
            "tab": "overview",
            "days": days,
            "ranges": RANGES,
            "metrics": metrics,
            "rate": rate,
            "chart_days": chart_days,
            "groups": GROUPS,
            "group": chosen.value,
            "grouped": grouped,
            "unit": _main_currency(grouped.data),
            "codes": {link.id: link.code for link in links},
            "links": links,
            "links_base": base + (f"&installs_cursor={installs_cursor}" if installs_cursor else ""),
            "link_meta": link_meta,
            "installs": installs,
            "install_meta": install_meta,
            "installs_base": base + (f"&links_cursor={links_cursor}" if links_cursor else ""),
            "skan": await SkanService(session).stats(
                app.workspace_id, app.id, chart_days[0], today
            ),
            "client_key": client_key,
            "link_error": link_error,
            "lv": link_values or {},
        },
        status_code=422 if link_error else 200,
    )


def _params(form: Form) -> dict[str, str] | None:
    """``key=value`` lines of the deep link parameters field."""
    out = {}
    for line in lines(form, "deep_link_params"):
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise Unprocessable(f"Deep link parameter {line!r} is not key=value.")
        out[key.strip()] = value.strip()
    return out or None


def _link_body(form: Form, app_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        name: text(form, name)
        for name in (
            "code",
            "destination_url",
            "ios_url",
            "android_url",
            "deep_link_path",
            "network",
            "campaign",
            "adset",
            "ad",
        )
    }
    body["deep_link_params"] = _params(form)
    body["app_id"] = app_id
    return {k: v for k, v in body.items() if v is not None}


@router.post("/{app_id}/links")
async def create_app_link(
    request: Request, session: Session, viewer: AdminViewer, app_id: AppId
) -> Response:
    app = await AppService(session).get(viewer.principal, app_id)
    form = await form_data(request)
    values = {name: values[-1] for name, values in form.items() if name != "csrf_token"}
    try:
        body = LinkCreate.model_validate(_link_body(form, app.id))
        async with session.begin_nested():  # a refusal leaves nothing behind
            link = await LinkService(session).create(viewer.principal, body)
    except ValidationError as exc:
        error = "; ".join(describe_errors(exc))
        return await app_page(
            request, session, viewer, app.id, link_error=error, link_values=values
        )
    except ReferkitError as exc:
        return await app_page(
            request, session, viewer, app.id, link_error=exc.detail, link_values=values
        )
    return redirect(request, f"{PREFIX}/links/{link.id}", f"App link {link.code} created.")


@router.post("/{app_id}/client-keys")
async def create_client_key(
    request: Request, session: Session, viewer: AdminViewer, app_id: AppId
) -> Response:
    form = await form_data(request)
    body = ClientKeyCreate.model_validate({"name": text(form, "name") or "App client key"})
    issued = await AppService(session).create_client_key(viewer.principal, app_id, body)
    # The key is shown on this answer only (a reload shows the page without it).
    return await app_page(request, session, viewer, app_id, client_key=issued.token)
