"""What a transaction changed that the hot paths may hold in process memory.

Services record changes in ``session.info`` while they work; once the transaction commits, the
link cache drops what they name (rolled back, they are forgotten), and with Redis every other
process does too. A change names codes (a link created, edited, archived), programs (a landing
URL, which member links without a destination of their own follow, or a deleted program, whose
links go with it) and workspaces whose test data was wiped — what ``/r/{code}`` caches — and API
keys revoked, regenerated or changed, whose credentials the event intake caches
(``referkit.auth.cache``), and the members and programs whose embedded dashboard shows something
else now (``referkit.embed.cache``; recorded by ``referkit.embed.changes`` and the click
writers). This module imports no domain, so every service can record into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

LINK_CHANGES = "referkit.link_changes"


@dataclass(slots=True)
class LinkChanges:
    codes: set[str] = field(default_factory=set)  # code keys (lower-cased codes)
    programs: set[str] = field(default_factory=set)
    test_workspaces: set[str] = field(default_factory=set)
    api_keys: set[str] = field(default_factory=set)  # key ids
    key_workspaces: set[str] = field(default_factory=set)  # workspaces whose default limit changed
    dashboards: set[str] = field(default_factory=set)  # member ids: numbers, referrals, status
    dashboard_programs: set[str] = field(default_factory=set)  # name, look, origins, rules

    def __bool__(self) -> bool:
        return bool(
            self.codes
            or self.programs
            or self.test_workspaces
            or self.api_keys
            or self.key_workspaces
            or self.dashboards
            or self.dashboard_programs
        )

    @property
    def touches_links(self) -> bool:
        return bool(self.codes or self.programs or self.test_workspaces)

    def update(self, other: LinkChanges) -> None:
        self.codes |= other.codes
        self.programs |= other.programs
        self.test_workspaces |= other.test_workspaces
        self.api_keys |= other.api_keys
        self.key_workspaces |= other.key_workspaces
        self.dashboards |= other.dashboards
        self.dashboard_programs |= other.dashboard_programs

    def dumps(self, origin: str) -> bytes:
        return orjson.dumps(
            {
                "origin": origin,
                "codes": sorted(self.codes),
                "programs": sorted(self.programs),
                "test_workspaces": sorted(self.test_workspaces),
                "api_keys": sorted(self.api_keys),
                "key_workspaces": sorted(self.key_workspaces),
                "dashboards": sorted(self.dashboards),
                "dashboard_programs": sorted(self.dashboard_programs),
            }
        )

    @classmethod
    def loads(cls, raw: bytes | str) -> tuple[str, LinkChanges]:
        """``(origin, changes)`` from ``dumps``' output; ValueError when it is not that."""
        data: Any = orjson.loads(raw)
        try:
            return str(data["origin"]), cls(
                codes={str(code) for code in data["codes"]},
                programs={str(program) for program in data["programs"]},
                test_workspaces={str(workspace) for workspace in data["test_workspaces"]},
                api_keys={str(key) for key in data.get("api_keys", ())},
                key_workspaces={str(ws) for ws in data.get("key_workspaces", ())},
                dashboards={str(member) for member in data.get("dashboards", ())},
                dashboard_programs={str(p) for p in data.get("dashboard_programs", ())},
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a link change: {exc}") from None


def link_changes(session: AsyncSession | Session) -> LinkChanges:
    """The changes recorded so far in this session's transaction."""
    changes: LinkChanges = session.info.setdefault(LINK_CHANGES, LinkChanges())
    return changes


class ChangeFollower(Protocol):
    """A process-memory cache that follows the link cache's changes (the embed dashboards)."""

    def drop(self, changes: LinkChanges) -> None:
        """Forget what ``changes`` name (committed here, or heard from another process)."""

    def clear(self) -> None:
        """Forget everything: changes may have been missed."""
