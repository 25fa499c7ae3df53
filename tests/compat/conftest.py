"""Compat tests reuse the webhook tests' loopback receiver, clock and driven worker."""

from __future__ import annotations

import base64

from tests.factories import Key
from tests.webhook.conftest import clock, receiver, worker

__all__ = ["basic", "clock", "receiver", "worker"]


def basic(key: Key) -> dict[str, str]:
    """Referral Rock's documented auth: ``Basic base64(public_key:private_key)``."""
    token = base64.b64encode(f"{key.public_key}:{key.secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
