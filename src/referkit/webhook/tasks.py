"""The webhook job: send one claimed message, signed, and report what happened.

Nothing here touches the database; the worker's job runner claims, calls ``send`` and commits
the outcome (``WebhookService.record``). Headers follow Standard Webhooks: ``webhook-id`` is the
message id (stable across retries), ``webhook-timestamp`` the signing time, and
``webhook-signature`` one ``v1,<base64 HMAC-SHA256>`` per active secret (two during a rotation).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
from standardwebhooks import Webhook

from referkit.kit.http import BlockedAddress
from referkit.kit.time import as_utc
from referkit.webhook.service import Delivery, Outcome

Clock = Callable[[], datetime]


def signature_headers(delivery: Delivery, now: datetime) -> dict[str, str]:
    signatures = [
        Webhook(secret).sign(delivery.message_id, now, delivery.body) for secret in delivery.secrets
    ]
    return {
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = as_utc(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (when - now).total_seconds())


async def send(
    client: httpx.AsyncClient, delivery: Delivery, clock: Clock, limit_seconds: float
) -> Outcome:
    """POST the message; any exception becomes an error outcome (never raised)."""
    now = clock()
    started = time.monotonic()
    if delivery.error is not None:  # an unreadable secret: send nothing unsigned
        return Outcome(now, 0, error=delivery.error[:500])

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(limit_seconds):
            response = await client.post(
                delivery.url,
                content=delivery.body.encode(),
                headers=signature_headers(delivery, now),
            )
            text = (await response.aread())[:1000].decode("utf-8", "replace")
    except TimeoutError:
        return Outcome(now, elapsed(), error=f"timed out after {limit_seconds:g} s")
    except BlockedAddress as exc:
        return Outcome(now, elapsed(), error=f"blocked: {exc}")
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        return Outcome(now, elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])
    error = None
    if response.is_redirect:
        error = f"redirect to {response.headers.get('location', '?')} (not followed)"
    elif not response.is_success:
        error = f"HTTP {response.status_code}"
    return Outcome(
        now,
        elapsed(),
        status_code=response.status_code,
        error=error,
        retry_after=retry_after_seconds(response.headers.get("retry-after"), now),
        response_body=text or None,
    )
