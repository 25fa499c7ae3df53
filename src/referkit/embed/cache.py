"""Each member's embedded dashboard, kept in process memory between views.

A view of a cached dashboard costs no database round trip: the token is checked by its
signature (``tokens.Verifier``) and expiry, the per-token limit is counted, and the answer is
built from the entry (the page's HTML is kept too, per look, with its CSP nonce left blank).

An entry stays right because every write that changes what it shows drops it before the writer
answers: the ORM rows of the member, its program, referrals, rewards and ledger, and its rollup
counters are recorded in the transaction's ``LinkChanges`` (``referkit.embed.changes``), the
click writers announce the members they counted, and once committed the link cache hands the
changes to this cache (``LinkCache.follow``) and, with Redis, to every other process. A disabled
or deleted member is therefore refused at once, and a click, signup or purchase shows on the
next view. Without Redis, other processes' writes are seen when the entry expires
(``embed_cache_ttl_seconds``); while a configured Redis is not heard, within ``_DETACHED_TTL``.

A fill that read the database while a change to its member (or a broad change) was being
announced is not kept: it may hold what was there before (the ``generation`` check, as in the
link cache).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from referkit.embed.schemas import EmbedMe
from referkit.embed.tokens import EmbedClaims
from referkit.link.changes import LinkChanges

if TYPE_CHECKING:
    from referkit.link.cache import LinkCache

_MAX_ENTRIES = 20_000
_MAX_DROP_MARKS = 50_000
_MAX_PAGES = 16  # rendered looks kept per member (the program's, plus mount-call overrides)
_DETACHED_TTL = 2.0  # seconds an entry is kept while a configured Redis cannot be heard


@dataclass(frozen=True, slots=True)
class ProgramLook:
    """What the token's program decides about every answer, refusals included."""

    allowed_origins: list[str]
    embed: dict[str, Any]


@dataclass(frozen=True)
class Board:
    """One member's dashboard, as ``/api/v1/embed/me`` and the page show it."""

    workspace_id: str
    livemode: bool
    program_id: str
    member_id: str
    program: ProgramLook
    me: EmbedMe
    """Built for the token that read it; its ``expires_at`` is never shown for another."""
    payload: dict[str, Any]
    """``me`` as JSON without ``expires_at`` (each answer adds its own token's)."""
    pages: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    """Rendered pages by look (``embed.pages``); bounded by ``remember_page``."""

    @classmethod
    def of(cls, me: EmbedMe, claims: EmbedClaims, program: ProgramLook) -> Board:
        payload = me.model_dump(mode="json")
        del payload["expires_at"]
        return cls(
            workspace_id=claims.workspace_id,
            livemode=claims.livemode,
            program_id=claims.program_id,
            member_id=me.member.id,
            program=program,
            me=me,
            payload=payload,
        )

    def serves(self, claims: EmbedClaims) -> bool:
        """The token names this member in this workspace, mode and program (what
        ``EmbedService.open`` checks against the rows)."""
        return (
            self.member_id == claims.member_id
            and self.program_id == claims.program_id
            and self.workspace_id == claims.workspace_id
            and self.livemode == claims.livemode
        )

    def remember_page(self, key: tuple[Any, ...], page: Any) -> None:
        if len(self.pages) >= _MAX_PAGES:
            self.pages.clear()
        self.pages[key] = page


class DashboardCache:
    def __init__(self, ttl_seconds: float, *, links: LinkCache | None = None) -> None:
        self.ttl = ttl_seconds
        self.links = links
        self._entries: dict[str, tuple[float, Board]] = {}
        self.generation = 0
        """Counts changes heard; read it before reading the database for ``put``."""
        self._broad = 0  # generation of the last change that named more than members
        self._dropped: dict[str, int] = {}  # member id → generation of its last change
        if links is not None:
            links.follow(self)

    def get(self, claims: EmbedClaims) -> Board | None:
        entry = self._entries.get(claims.member_id)
        if entry is None or entry[0] <= time.monotonic() or not entry[1].serves(claims):
            return None
        return entry[1]

    def put(self, board: Board, *, read_at: int) -> None:
        """Keep ``board``, read from the database when ``generation`` was ``read_at``, unless
        a change to it has been heard since (the read may predate that change's commit)."""
        if self.ttl <= 0 or self._broad > read_at:
            return
        if self._dropped.get(board.member_id, -1) > read_at:
            return
        if len(self._entries) >= _MAX_ENTRIES:
            now = time.monotonic()
            self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
        ttl = self.ttl
        if self.links is not None and self.links.detached:
            ttl = min(ttl, _DETACHED_TTL)  # other processes' writes cannot reach us now
        self._entries[board.member_id] = (time.monotonic() + ttl, board)

    # ChangeFollower ----------------------------------------------------------------------------

    def drop(self, changes: LinkChanges) -> None:
        programs = changes.dashboard_programs | changes.programs
        if not (changes.dashboards or programs or changes.test_workspaces):
            return
        self.generation += 1
        if len(self._dropped) + len(changes.dashboards) > _MAX_DROP_MARKS:
            self._dropped.clear()
            self._broad = self.generation  # forgetting the marks must not let a stale fill in
        for member_id in changes.dashboards:
            self._dropped[member_id] = self.generation
            self._entries.pop(member_id, None)
        if programs or changes.test_workspaces:
            # Rare (a program's settings, a deleted program, a test-data wipe): one pass.
            self._broad = self.generation
            workspaces = changes.test_workspaces
            stale = [
                key
                for key, (_, board) in self._entries.items()
                if board.program_id in programs
                or (not board.livemode and board.workspace_id in workspaces)
            ]
            for key in stale:
                del self._entries[key]

    def clear(self) -> None:
        self.generation += 1
        self._broad = self.generation
        self._dropped.clear()
        self._entries.clear()
