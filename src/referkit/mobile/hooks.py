"""The point where an attributed app event leaves the attribution step.

``attributed`` runs in the event's transaction once an app install, open or in-app event has
been credited to a click: it writes the ``event.attributed`` webhook message, then calls every
subscriber registered with ``on_attributed``. Ad-network forwarding (Meta, Google Ads, TikTok,
postbacks) subscribes here and writes its jobs as rows in the same transaction, so a forward
exists if and only if the event does; test-mode events reach subscribers too, with
``event.livemode`` false, and forwarders must skip them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.event.record import StoredEvent
from referkit.event.schemas import Event as EventView
from referkit.models import App
from referkit.webhook.service import WebhookService


@dataclass(frozen=True)
class Attributed:
    """An app event that was credited to a click (its ``attribution`` says how)."""

    app: App
    event: StoredEvent
    # Who sent it, as the request said (never stored in clear): ``email``, ``external_id``,
    # ``advertising_id``. Forwarders hash what networks want hashed.
    identity: dict[str, str] | None = None


Subscriber = Callable[[AsyncSession, Attributed], Awaitable[None]]
_subscribers: list[Subscriber] = []
_event_subscribers: list[Subscriber] = []


def on_attributed(subscriber: Subscriber) -> Subscriber:
    """Register ``subscriber`` (usable as a decorator); it must only write rows (no I/O)."""
    _subscribers.append(subscriber)
    return subscriber


async def attributed(session: AsyncSession, app: App, event: StoredEvent) -> None:
    data = EventView.model_validate(event).model_dump(mode="json")
    await WebhookService(session).emit(event.workspace_id, event.livemode, "event.attributed", data)
    what = Attributed(app=app, event=event)
    for subscriber in list(_subscribers):
        await subscriber(session, what)


def on_app_event(subscriber: Subscriber) -> Subscriber:
    """Register ``subscriber`` for every app event, attributed or not (``event.click_id`` tells);
    it runs in the event's transaction and must only write rows (no I/O)."""
    _event_subscribers.append(subscriber)
    return subscriber


async def app_event(
    session: AsyncSession, app: App, event: StoredEvent, identity: dict[str, str] | None = None
) -> None:
    what = Attributed(app=app, event=event, identity=identity)
    for subscriber in list(_event_subscribers):
        await subscriber(session, what)
