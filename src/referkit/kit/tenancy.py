"""Fetching one of the caller's rows by id: the single place that decides what "not found" is.

A malformed id, another workspace's id and an id from the other mode (live/test) all get the
same 404, so an id tells a caller nothing about other tenants; a malformed id never reaches the
database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from referkit.auth.principal import Principal
from referkit.errors import NotFound
from referkit.kit.ids import looks_like_id

T = TypeVar("T")


async def owned(
    principal: Principal,
    row_id: str,
    *,
    prefix: str,
    noun: str,
    load: Callable[[str, bool, str], Awaitable[T | None]],
) -> T:
    """``load(workspace_id, livemode, row_id)`` for a well-formed id, or 404."""
    row = None
    if looks_like_id(row_id, prefix):
        row = await load(principal.workspace_id, principal.livemode, row_id)
    if row is None:
        raise NotFound(f"No {noun} {row_id} in this workspace.")
    return row
