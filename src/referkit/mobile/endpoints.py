"""``/api/v1/apps…`` and ``/api/v1/portfolio`` (API.md "Apps"), and the association files."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse

from referkit.auth.dependencies import (
    AnalyticsPrincipal,
    ReadPrincipal,
    Session,
    TrackPrincipal,
    WritePrincipal,
)
from referkit.db.session import APIRouter, reads_only, replica_reads
from referkit.errors import Conflict
from referkit.event.schemas import Event, EventType
from referkit.event.service import EventService
from referkit.ingest import Ingest
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.kit.schemas import UtcDatetime
from referkit.link.endpoints import links_out
from referkit.link.schemas import Link, LinkCreate, LinkUpdate
from referkit.link.service import LinkService
from referkit.mobile.installs import install_event, install_view, is_install_of
from referkit.mobile.schemas import (
    App,
    AppCreate,
    AppStats,
    AppUpdate,
    ClientKey,
    ClientKeyCreate,
    GroupBy,
    Install,
    InstallCreate,
    Overview,
    Portfolio,
)
from referkit.mobile.service import AppService, WellKnownService
from referkit.mobile.stats import AppStatsService
from referkit.openapi import problems
from referkit.skan.service import SkanService
from referkit.stats.endpoints import IsoDate

router = APIRouter(prefix="/apps", tags=["Apps"])
portfolio_router = APIRouter(tags=["Apps"])
well_known_router = APIRouter(tags=["Apps"])

From = Annotated[IsoDate | None, Query(alias="from", description="First day (UTC), inclusive.")]
To = Annotated[IsoDate | None, Query(description="Last day (UTC), inclusive; default today.")]


@router.get("", summary="List apps", responses=problems(422))
@replica_reads
async def list_apps(
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[App]:
    apps, meta = await AppService(session).list(principal, page)
    return Page[App](data=[App.model_validate(a) for a in apps], meta=meta)


@router.post(
    "", summary="Register an app", status_code=status.HTTP_201_CREATED, responses=problems(422)
)
async def create_app(body: AppCreate, principal: WritePrincipal, session: Session) -> App:
    return App.model_validate(await AppService(session).create(principal, body))


@router.get("/{app_id}", summary="Get an app", responses=problems(404))
async def get_app(app_id: str, principal: ReadPrincipal, session: Session) -> App:
    return App.model_validate(await AppService(session).get(principal, app_id))


@router.patch("/{app_id}", summary="Update an app", responses=problems(404, 422))
async def update_app(
    app_id: str, body: AppUpdate, principal: WritePrincipal, session: Session
) -> App:
    return App.model_validate(await AppService(session).update(principal, app_id, body))


@router.delete(
    "/{app_id}",
    summary="Delete an app (its links are archived; events and stats stay)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(404),
)
async def delete_app(app_id: str, principal: WritePrincipal, session: Session) -> None:
    await AppService(session).delete(principal, app_id)


@router.post(
    "/{app_id}/client-keys",
    summary="Create a publishable client key (pk_app_…) for the app",
    status_code=status.HTTP_201_CREATED,
    responses=problems(404, 422),
)
async def create_client_key(
    app_id: str, principal: WritePrincipal, session: Session, body: ClientKeyCreate | None = None
) -> ClientKey:
    issued = await AppService(session).create_client_key(
        principal, app_id, body or ClientKeyCreate()
    )
    key = issued.key
    return ClientKey(
        id=key.id,
        app_id=app_id,
        name=key.name,
        key=issued.token,
        mode=key.mode,
        created_at=key.created_at,
    )


# --- app links: the same Link object and service, scoped to the app ---------------------------


@router.get("/{app_id}/links", summary="List the app's links", responses=problems(404, 422))
@replica_reads
async def list_app_links(
    app_id: str,
    request: Request,
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[str | None, Query(max_length=200, description="Matches code, URL.")] = None,
) -> Page[Link]:
    app = await AppService(session).get(principal, app_id)
    links, meta = await LinkService(session).list(
        principal, page, program_id=None, member_id=None, q=q, app_id=app.id
    )
    return Page[Link](data=await links_out(request, session, links), meta=meta)


@router.post(
    "/{app_id}/links",
    summary="Create a link of the app",
    status_code=status.HTTP_201_CREATED,
    responses=problems(404, 409, 422),
)
async def create_app_link(
    app_id: str, body: LinkCreate, request: Request, principal: WritePrincipal, session: Session
) -> Link:
    app = await AppService(session).get(principal, app_id)
    if body.app_id not in (None, app.id):
        raise Conflict(f"The body names app {body.app_id}, the path app {app.id}.")
    link = await LinkService(session).create(principal, body.model_copy(update={"app_id": app.id}))
    return (await links_out(request, session, [link]))[0]


@router.get("/{app_id}/links/{link_id}", summary="Get a link of the app", responses=problems(404))
async def get_app_link(
    app_id: str, link_id: str, request: Request, principal: ReadPrincipal, session: Session
) -> Link:
    link = await LinkService(session).get_in_app(principal, app_id, link_id)
    return (await links_out(request, session, [link]))[0]


@router.patch(
    "/{app_id}/links/{link_id}", summary="Update a link of the app", responses=problems(404, 422)
)
async def update_app_link(
    app_id: str,
    link_id: str,
    body: LinkUpdate,
    request: Request,
    principal: WritePrincipal,
    session: Session,
) -> Link:
    service = LinkService(session)
    await service.get_in_app(principal, app_id, link_id)
    link = await service.update(principal, link_id, body)
    return (await links_out(request, session, [link]))[0]


@router.delete(
    "/{app_id}/links/{link_id}",
    summary="Archive a link of the app",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(404),
)
async def delete_app_link(
    app_id: str, link_id: str, principal: WritePrincipal, session: Session
) -> None:
    service = LinkService(session)
    await service.get_in_app(principal, app_id, link_id)
    await service.archive(principal, link_id)


# --- installs ----------------------------------------------------------------------------------


@router.post(
    "/{app_id}/installs",
    summary="Record an install (first open) and get its attribution and deferred deep link",
    description="201 with the attribution; 200 with the first answer when `event_id` was seen. "
    "Accepts the app's client key (`pk_app_…`).",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": Install, "description": "A replay."}, **problems(404, 409, 422)},
)
@reads_only
async def create_install(
    app_id: str, body: InstallCreate, request: Request, principal: TrackPrincipal, session: Session
) -> JSONResponse:
    app = await AppService(session).get(principal, app_id)
    await session.commit()  # end the read: the batcher commits the install
    settings = request.app.state.settings
    client = principal.app_id is not None
    event_body = install_event(request.scope, settings, app.id, body, client=client)
    ingest: Ingest = request.app.state.ingest
    event, created = await ingest.event(principal, event_body)
    if not is_install_of(event, app.id):
        raise Conflict(f"event_id {event_body.event_id!r} was used by another event.")
    return JSONResponse(
        install_view(event).model_dump(mode="json"), status_code=201 if created else 200
    )


# --- analytics ---------------------------------------------------------------------------------


@router.get(
    "/{app_id}/stats",
    summary="App stats: clicks, installs, reinstalls, events, revenue, conversion rate",
    responses=problems(404, 422),
)
@replica_reads
async def app_stats(
    app_id: str,
    principal: AnalyticsPrincipal,
    session: Session,
    from_: From = None,
    to: To = None,
    group_by: Annotated[GroupBy, Query(description="link, network, campaign or day.")] = (
        GroupBy.day
    ),
) -> AppStats:
    stats = await AppStatsService(session).stats(principal, app_id, from_, to, group_by)
    stats.skan = await SkanService(session).stats(
        principal.workspace_id, stats.app_id, stats.from_, stats.to
    )
    return stats


@router.get("/{app_id}/events", summary="The app's events (cursor list)", responses=problems(404))
async def app_events(
    app_id: str,
    principal: AnalyticsPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    type: Annotated[EventType | None, Query()] = None,
    from_: Annotated[
        UtcDatetime | None, Query(alias="from", description="occurred_at ≥ this.")
    ] = None,
    to: Annotated[UtcDatetime | None, Query(description="occurred_at < this.")] = None,
) -> Page[Event]:
    app = await AppService(session).get(principal, app_id)
    events, meta = await EventService(session).list(
        principal,
        page,
        type=type,
        app_id=app.id,
        program_id=None,
        customer_id=None,
        occurred_from=from_,
        occurred_to=to,
    )
    return Page[Event](data=[Event.model_validate(e) for e in events], meta=meta)


@router.get(
    "/{app_id}/overview",
    summary="KPIs against the previous period of the same length, and the top links",
    responses=problems(404, 422),
)
@replica_reads
async def app_overview(
    app_id: str, principal: AnalyticsPrincipal, session: Session, from_: From = None, to: To = None
) -> Overview:
    overview = await AppStatsService(session).overview(principal, app_id, from_, to)
    overview.skan = await SkanService(session).stats(
        principal.workspace_id, overview.app_id, overview.period.from_, overview.period.to
    )
    return overview


@portfolio_router.get(
    "/portfolio", summary="Every app's KPIs side by side, with totals", responses=problems(422)
)
async def portfolio(
    principal: AnalyticsPrincipal, session: Session, from_: From = None, to: To = None
) -> Portfolio:
    return await AppStatsService(session).portfolio(principal, from_, to)


# --- association files (public, no key) ---------------------------------------------------------


def _host(request: Request) -> str:
    return (request.headers.get("host") or "").split(":", 1)[0].lower()


@well_known_router.get(
    "/.well-known/apple-app-site-association",
    summary="Apple App Site Association (universal links)",
    response_class=JSONResponse,
)
async def apple_app_site_association(request: Request, session: Session) -> Response:
    body = await WellKnownService(session).apple_app_site_association(_host(request))
    return JSONResponse(body, headers={"cache-control": "public, max-age=300"})


@well_known_router.get(
    "/.well-known/assetlinks.json",
    summary="Digital Asset Links (Android App Links)",
    response_class=JSONResponse,
)
async def asset_links(request: Request, session: Session) -> Response:
    body = await WellKnownService(session).asset_links(_host(request))
    return JSONResponse(body, headers={"cache-control": "public, max-age=300"})
