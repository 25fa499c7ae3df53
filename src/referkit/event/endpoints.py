from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response, status

from referkit.auth.dependencies import AnalyticsPrincipal, Session, TrackPrincipal
from referkit.db.session import APIRouter, reads_only, replica_reads
from referkit.event.schemas import (
    BatchResult,
    Event,
    EventBatch,
    EventCreate,
    EventType,
)
from referkit.event.service import EventService
from referkit.event.views import batch_result, event_view
from referkit.ingest import Ingest
from referkit.kit.json import dumps_utc
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.kit.schemas import UtcDatetime
from referkit.openapi import problems

router = APIRouter(prefix="/events", tags=["Events"])


async def _release(session: Session) -> None:
    # The request's (read) session has only authenticated the key; end its transaction now so
    # it holds no connection while the batcher commits the event.
    await session.commit()


def _json(content: Any, status_code: int) -> Response:
    return Response(
        dumps_utc(content),
        status_code=status_code,
        media_type="application/json",
    )


@router.post(
    "",
    summary="Track an event (idempotent on event_id)",
    description="201 with the stored event and its attribution; 200 with the first answer when "
    "the `event_id` was already stored.",
    status_code=status.HTTP_201_CREATED,
    response_model=Event,
    responses={200: {"model": Event, "description": "A replay."}, **problems(422)},
)
@reads_only
async def create_event(
    body: EventCreate, request: Request, principal: TrackPrincipal, session: Session
) -> Response:
    await _release(session)
    ingest: Ingest = request.app.state.ingest
    event, created = await ingest.event(principal, body)
    return _json(event_view(event), 201 if created else 200)


@router.post(
    "/batch",
    summary="Track up to 1000 events",
    description="Each event is stored (201), replayed (200) or refused (4xx) on its own.",
    response_model=BatchResult,
    responses=problems(422),
)
@reads_only
async def create_events_batch(
    body: EventBatch, request: Request, principal: TrackPrincipal, session: Session
) -> Response:
    await _release(session)
    ingest: Ingest = request.app.state.ingest
    outcomes = await ingest.events_many(principal, body.events)
    return _json(batch_result(outcomes), 200)


@router.get("", summary="List events", responses=problems(422))
@replica_reads
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
