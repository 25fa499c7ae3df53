"""Forwarding subscribes to every app event (``mobile.hooks.on_app_event``): its forward rows
are written in the event's own transaction. Imported by ``referkit.api`` so it registers once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.integration.service import IntegrationService
from referkit.mobile.hooks import Attributed, on_app_event


@on_app_event
async def forward(session: AsyncSession, seen: Attributed) -> None:
    await IntegrationService(session).enqueue(seen.app, seen.event, seen.identity)
