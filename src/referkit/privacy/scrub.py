"""Redacting one person's traces from stored JSON and free text (webhook bodies, stored
responses, fraud evidence, notes), in place, without knowing the document's shape.

What identifies the person is gathered first (``Traces``) from the rows that are theirs; then
every string in a document is checked against it:

- a string equal to one of ``ids`` (their customer id) becomes null: the link is cut;
- a string containing one of the *strong* traces (email, external id, IP, user agent, visitor
  id), compared case-insensitively, becomes ``"[erased]"``; traces shorter than
  ``MIN_SUBSTRING`` match only whole strings, so an external id ``"7"`` does not erase every
  string with a 7 in it;
- a string equal to one of the *exact* traces (name, metadata values) becomes ``"[erased]"``:
  a name is too common a substring to match inside other text;
- ``keys`` (email, external id, ids) find the documents worth parsing (``needles``);
- an object whose ``id`` is one of ``records`` (their events, their member row) loses its
  ``properties`` and ``metadata`` (free-form data the client sent about them).

Keys are left alone: they are the document's shape, not its data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

REDACTED = "[erased]"
MIN_SUBSTRING = 6
CLEARED_KEYS = ("properties", "metadata")


def _norm(values: Iterable[str | None]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values if v and v.strip())


@dataclass(frozen=True)
class Traces:
    strong: frozenset[str] = field(default_factory=frozenset)
    exact: frozenset[str] = field(default_factory=frozenset)
    ids: frozenset[str] = field(default_factory=frozenset)
    records: frozenset[str] = field(default_factory=frozenset)
    keys: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        *,
        strong: Iterable[str | None] = (),
        exact: Iterable[str | None] = (),
        ids: Iterable[str | None] = (),
        records: Iterable[str | None] = (),
        keys: Iterable[str | None] = (),
    ) -> Traces:
        return cls(
            strong=_norm(strong),
            exact=_norm(exact),
            ids=frozenset(v for v in ids if v),
            records=frozenset(v for v in records if v),
            keys=_norm(keys),
        )

    def needles(self) -> list[str]:
        """Lower-cased substrings that mark a document as being about this person (their
        email, external id, their ids): candidates are found by these, then scrubbed with
        every trace. A user agent is not a needle: many people share one."""
        return sorted(self.keys | {i.lower() for i in self.ids})

    def hit(self, text: str) -> bool:
        """Whether plain text (a receiver's answer) carries any of the person's traces."""
        low = text.lower()
        if any(n in low for n in self.needles()):
            return True
        return any(t in low for t in self.strong if len(t) >= MIN_SUBSTRING)


def _string(value: str, traces: Traces) -> str | None:
    if value in traces.ids:
        return None
    low = value.strip().lower()
    if low in traces.strong or low in traces.exact:
        return REDACTED
    if any(len(t) >= MIN_SUBSTRING and t in low for t in traces.strong):
        return REDACTED
    return value


def scrub(value: Any, traces: Traces) -> tuple[Any, bool]:
    """``value`` with the person's traces redacted, and whether anything changed."""
    if isinstance(value, str):
        new = _string(value, traces)
        return new, new != value
    if isinstance(value, list):
        changed = False
        items = []
        for item in value:
            new_item, hit = scrub(item, traces)
            items.append(new_item)
            changed |= hit
        return items, changed
    if isinstance(value, dict):
        changed = False
        out: dict[Any, Any] = {}
        is_record = value.get("id") in traces.records
        for key, item in value.items():
            if is_record and key in CLEARED_KEYS and item:
                out[key] = {}
                changed = True
                continue
            out[key], hit = scrub(item, traces)
            changed |= hit
        return out, changed
    return value, False
