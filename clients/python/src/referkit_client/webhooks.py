"""Verifying Referkit's webhooks (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``,
``webhook-signature`` = space-separated ``v1,<base64 HMAC-SHA256>``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from referkit_client.errors import WebhookVerificationError

TOLERANCE_SECONDS = 5 * 60


def verify_webhook(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """The parsed body if the signature is valid and the timestamp within five minutes;
    ``WebhookVerificationError`` otherwise. ``secret`` is the endpoint's ``whsec_…``."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = (
        lower.get("webhook-id"),
        lower.get("webhook-timestamp"),
        lower.get("webhook-signature"),
    )
    if not msg_id or not stamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    if abs((now if now is not None else time.time()) - sent_at) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("webhook-timestamp is too old or in the future")
    body = payload.encode() if isinstance(payload, str) else payload
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"))
    except ValueError:
        raise WebhookVerificationError("the secret is not a whsec_ value") from None
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            parsed: dict[str, Any] = json.loads(body)
            return parsed
    raise WebhookVerificationError("no signature matches")
