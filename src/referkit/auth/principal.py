"""Who is calling, and what each scope may do.

| scope      | may call                                               |
|------------|--------------------------------------------------------|
| full       | everything                                             |
| read_only  | reads (GET) of every resource, analytics included       |
| analytics  | analytics reads only (stats, overview, events, portfolio) |
| app_client | an app's publishable key (``pk_app_…``): that app's installs, opens and in-app
|            | events only (``Access.track``; the event service checks the app and the type) |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Scope(StrEnum):
    full = "full"
    read_only = "read_only"
    analytics = "analytics"
    app_client = "app_client"


class Mode(StrEnum):
    live = "live"
    test = "test"


class Access(StrEnum):
    write = "write"
    read = "read"
    analytics = "analytics"
    track = "track"
    """Send events (``POST /events``, ``/apps/{id}/installs``)."""


_ALLOWED: dict[Scope, frozenset[Access]] = {
    Scope.full: frozenset(Access),
    Scope.read_only: frozenset({Access.read, Access.analytics}),
    Scope.analytics: frozenset({Access.analytics}),
    Scope.app_client: frozenset({Access.track}),
}


@dataclass(frozen=True)
class Principal:
    workspace_id: str
    key_id: str
    scope: Scope
    livemode: bool
    rate_limit_per_minute: int | None = None
    last_used_at: datetime | None = None
    app_id: str | None = None
    """The app of a client key (``pk_app_…``); None for every other key."""

    @property
    def mode(self) -> Mode:
        return Mode.live if self.livemode else Mode.test

    def allows(self, access: Access) -> bool:
        return access in _ALLOWED[self.scope]
