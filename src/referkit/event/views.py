"""Event answers as plain dicts, encoded once by orjson.

Events are the hot write path: answers are built from the stored rows directly instead of
validating a response model per event (the rows were validated on the way in; the OpenAPI
schema still documents ``schemas.Event`` and ``schemas.BatchResult``). The API endpoints and the
event intake both answer with these.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from referkit.errors import ReferkitError
from referkit.event.record import StoredEvent
from referkit.event.schemas import BatchItem, Event
from referkit.openapi import Problem

_VIEW_FIELDS = tuple(Event.model_fields)
_view_values = attrgetter(*_VIEW_FIELDS)


def event_view(event: StoredEvent) -> dict[str, Any]:
    return dict(zip(_VIEW_FIELDS, _view_values(event), strict=True))


def batch_item(index: int, outcome: tuple[StoredEvent, bool] | BaseException) -> dict[str, Any]:
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
    return {
        "index": index,
        "status": 201 if created else 200,
        "event": event_view(event),
        "error": None,
    }


def batch_result(outcomes: Sequence[tuple[StoredEvent, bool] | BaseException]) -> dict[str, Any]:
    items = [batch_item(index, outcome) for index, outcome in enumerate(outcomes)]
    statuses = [item["status"] for item in items]
    return {
        "data": items,
        "stored": statuses.count(201),
        "replayed": statuses.count(200),
        "failed": sum(code >= 400 for code in statuses),
    }
