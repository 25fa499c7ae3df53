"""An install request as the event it becomes, and the event as the install's answer.

Shared by ``POST /api/v1/apps/{app_id}/installs`` on the full stack (``mobile.endpoints``) and
by the install intake (``mobile.intake``), so both paths store and answer alike.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

from referkit.config import Settings
from referkit.event.record import StoredEvent
from referkit.event.schemas import DeviceInput, EventCreate, EventType
from referkit.kit.ids import new_id
from referkit.kit.net import client_ip
from referkit.mobile.schemas import Install, InstallCreate


def install_view(event: StoredEvent) -> Install:
    attribution: dict[str, Any] = dict(event.attribution or {})
    assert event.app_id is not None
    return Install.model_validate(
        {
            "install_id": event.id,
            "app_id": event.app_id,
            "attribution": {
                "method": attribution.get("method") or "organic",
                **{
                    name: attribution.get(name)
                    for name in ("link_id", "click_id", "network", "campaign", "confidence")
                },
                "matched": attribution.get("matched"),
                "explanation": attribution.get("explanation") or "",
            },
            "reinstall": bool(attribution.get("reinstall")),
            "deep_link": attribution.get("deep_link"),
        }
    )


def _user_agent(scope: Scope) -> str | None:
    """The request's first ``User-Agent`` header, as Starlette reads it."""
    for name, value in scope["headers"]:
        if name == b"user-agent":
            return str(value.decode("latin-1"))
    return None


def install_event(
    scope: Scope, settings: Settings, app_id: str, body: InstallCreate, *, client: bool
) -> EventCreate:
    """The ``install`` event an install request records (``client``: sent with the app's
    client key, from the device itself)."""
    device: DeviceInput = body.device
    if client:
        # A device calling with its client key: its own address and user agent are the
        # device's (a backend relaying installs sends them in `device`).
        updates: dict[str, Any] = {}
        if device.ip is None:
            updates["ip"] = client_ip(scope, settings.trusted_networks)
        user_agent = _user_agent(scope)
        if device.user_agent is None and user_agent:
            updates["user_agent"] = user_agent[:1000]
        device = device.model_copy(update=updates)
    return EventCreate(
        event_id=body.event_id or f"install:{new_id('evt')}",
        type=EventType.install,
        occurred_at=body.occurred_at,
        app_id=app_id,
        click_id=body.click_id,
        install_referrer=body.install_referrer,
        device=device,
        ip=device.ip,
        user_agent=device.user_agent,
    )


def is_install_of(event: StoredEvent, app_id: str) -> bool:
    """Whether the stored event is an install of this app (a replayed ``event_id`` may name
    another event: that is a conflict)."""
    return event.type == EventType.install.value and event.app_id == app_id
