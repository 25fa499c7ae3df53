"""Who is calling, and what each scope may do.

| scope      | may call                                               |
|------------|--------------------------------------------------------|
| full       | everything                                             |
| read_only  | reads (GET) of every resource, analytics included       |
| analytics  | analytics reads only (stats, overview, events, portfolio) |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Scope(StrEnum):
    full = "full"
    read_only = "read_only"
    analytics = "analytics"


class Mode(StrEnum):
    live = "live"
    test = "test"


class Access(StrEnum):
    write = "write"
    read = "read"
    analytics = "analytics"


_ALLOWED: dict[Scope, frozenset[Access]] = {
    Scope.full: frozenset(Access),
    Scope.read_only: frozenset({Access.read, Access.analytics}),
    Scope.analytics: frozenset({Access.analytics}),
}


@dataclass(frozen=True)
class Principal:
    workspace_id: str
    key_id: str
    scope: Scope
    livemode: bool
    rate_limit_per_minute: int | None = None
    last_used_at: datetime | None = None

    @property
    def mode(self) -> Mode:
        return Mode.live if self.livemode else Mode.test

    def allows(self, access: Access) -> bool:
        return access in _ALLOWED[self.scope]
