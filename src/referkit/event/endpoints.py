from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response, status

from referkit.auth.dependencies import AnalyticsPrincipal, Session, WritePrincipal
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
from referkit.models import Event as EventModel
from referkit.openapi import Problem, problems

router = APIRouter(prefix="/events", tags=["Events"])


async def _release(session: Session) -> None:
    # The request's (read) session has only authenticated the key; end its transaction now so
    # it holds no connection while the batcher commits the event.
    await session.commit()


# Events are the hot write path: answers are built from the stored rows as plain dicts and
# encoded once by orjson, instead of validating a response model per event (the rows were
# validated on the way in; the OpenAPI schema still documents the models below).
_VIEW_FIELDS = tuple(Event.model_fields)


def _view(event: EventModel) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _VIEW_FIELDS}


def _json(content: Any, status_code: int) -> Response:
    return Response(
        orjson.dumps(content, option=orjson.OPT_UTC_Z),
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
    body: EventCreate, request: Request, principal: WritePrincipal, session: Session
) -> Response:
    await _release(session)
    ingest: Ingest = request.app.state.ingest
    event, created = await ingest.event(principal, body)
    return _json(_view(event), 201 if created else 200)


def _item(index: int, outcome: tuple[EventModel, bool] | BaseException) -> dict[str, Any]:
    if isinstance(outcome, ReferkitError):
        problem = Problem(
            type=f"/problems/{outcome.code}",
            title=outcome.title,
            status=outcome.status_code,
            detail=outcome.detail,
            code=outcome.code,
            **outcome.extra,
        )
        item = BatchItem(index=index, status=outcome.status_code, error=problem)
        return item.model_dump(mode="json", by_alias=True)
    if isinstance(outcome, BaseException):
        raise outcome
    event, created = outcome
    return {"index": index, "status": 201 if created else 200, "event": _view(event), "error": None}


@router.post(
    "/batch",
    summary="Track up to 1000 events",
    description="Each event is stored (201), replayed (200) or refused (4xx) on its own.",
    response_model=BatchResult,
    responses=problems(422),
)
@reads_only
async def create_events_batch(
    body: EventBatch, request: Request, principal: WritePrincipal, session: Session
) -> Response:
    await _release(session)
    ingest: Ingest = request.app.state.ingest
    outcomes = await ingest.events_many(principal, body.events)
    items = [_item(index, outcome) for index, outcome in enumerate(outcomes)]
    statuses = [item["status"] for item in items]
    return _json(
        {
            "data": items,
            "stored": statuses.count(201),
            "replayed": statuses.count(200),
            "failed": sum(code >= 400 for code in statuses),
        },
        200,
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
