"""An event as the batch writer builds it: a plain slotted record, not an ORM instance.

The event batcher inserts its rows below the ORM (``EventRepository.add_all``), so an ORM
``Event`` per accepted event would only pay for instrumentation nobody uses (a quarter of a
batch's time). ``EventRecord`` has the model's attributes, so code that reads an event (the
answer, the webhook payload, a refund's purchase) takes either one: ``StoredEvent``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from referkit.models import Event


@dataclass(slots=True)
class EventRecord:
    id: str
    workspace_id: str
    livemode: bool
    event_id: str
    type: str
    occurred_at: datetime
    created_at: datetime
    name: str | None = None
    app_id: str | None = None
    program_id: str | None = None
    customer_id: str | None = None
    click_id: str | None = None
    link_id: str | None = None
    member_id: str | None = None
    referral_id: str | None = None
    amount: int | None = None
    currency: str | None = None
    refunded_event_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    attribution: dict[str, Any] | None = None
    outcome: dict[str, Any] = field(default_factory=dict)
    ip: str | None = None
    visitor_id: str | None = None
    user_agent: str | None = None


StoredEvent = Event | EventRecord
"""An event read from the database, or one built by the batch being written."""

COLUMNS = tuple(Event.__table__.columns.keys())
assert set(COLUMNS) == set(EventRecord.__slots__), "EventRecord must mirror the events table"
