from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from referkit.auth.dependencies import AnalyticsPrincipal, Session, WritePrincipal
from referkit.auth.principal import Principal
from referkit.db.session import reads_only
from referkit.errors import ReferkitError
from referkit.event.schemas import (
    BatchItem,
    BatchResult,
    Event,
    EventBatch,
    EventCreate,
    EventType,
)
from referkit.event.service import EventService
from referkit.ingest import Ingest
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.kit.schemas import UtcDatetime
from referkit.openapi import Problem, problems

router = APIRouter(prefix="/events", tags=["Events"])


async def _release(session: Session) -> None:
    # The request's (read) session has only authenticated the key; end its transaction now so
    # it holds no connection while the batcher commits the event.
    await session.commit()


@router.post(
    "",
    summary="Track an event (idempotent on event_id)",
    description="201 with the stored event and its attribution; 200 with the first answer when "
    "the `event_id` was already stored.",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": Event, "description": "A replay."}, **problems(422)},
)
@reads_only
async def create_event(
    body: EventCreate,
    request: Request,
    response: Response,
    principal: WritePrincipal,
    session: Session,
) -> Event:
    await _release(session)
    ingest: Ingest = request.app.state.ingest
    event, created = await ingest.event(principal, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return Event.model_validate(event)


async def _one(ingest: Ingest, principal: Principal, index: int, body: EventCreate) -> BatchItem:
    try:
        event, created = await ingest.event(principal, body)
    except ReferkitError as exc:
        problem = Problem(
            type=f"/problems/{exc.code}",
            title=exc.title,
            status=exc.status_code,
            detail=exc.detail,
            code=exc.code,
            **exc.extra,
        )
        return BatchItem(index=index, status=exc.status_code, error=problem)
    return BatchItem(index=index, status=201 if created else 200, event=Event.model_validate(event))


@router.post(
    "/batch",
    summary="Track up to 1000 events",
    description="Each event is stored (201), replayed (200) or refused (4xx) on its own.",
    responses=problems(422),
)
@reads_only
async def create_events_batch(
    body: EventBatch, request: Request, principal: WritePrincipal, session: Session
) -> BatchResult:
    await _release(session)
    ingest: Ingest = request.app.state.ingest
    items = await asyncio.gather(
        *(_one(ingest, principal, index, event) for index, event in enumerate(body.events))
    )
    return BatchResult(
        data=list(items),
        stored=sum(item.status == 201 for item in items),
        replayed=sum(item.status == 200 for item in items),
        failed=sum(item.status >= 400 for item in items),
    )


@router.get("", summary="List events", responses=problems(422))
async def list_events(
    principal: AnalyticsPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    type: Annotated[EventType | None, Query()] = None,
    app_id: Annotated[str | None, Query(max_length=40)] = None,
    program_id: Annotated[str | None, Query(max_length=40)] = None,
    customer_id: Annotated[str | None, Query(max_length=40)] = None,
    from_: Annotated[
        UtcDatetime | None, Query(alias="from", description="occurred_at ≥ this.")
    ] = None,
    to: Annotated[UtcDatetime | None, Query(description="occurred_at < this.")] = None,
) -> Page[Event]:
    events, meta = await EventService(session).list(
        principal,
        page,
        type=type,
        app_id=app_id,
        program_id=program_id,
        customer_id=customer_id,
        occurred_from=from_,
        occurred_to=to,
    )
    return Page[Event](data=[Event.model_validate(e) for e in events], meta=meta)
