"""The forward job: send one claimed batch and report what happened (no database here).

A 2xx is success, except a Google Ads answer carrying ``partialFailureError`` (the upload was
accepted but conversions in it were refused): that is logged as a failure with Google's message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

import httpx

from referkit.integration.service import Batch
from referkit.kit.http import BlockedAddress
from referkit.kit.json import loads
from referkit.webhook.service import Outcome
from referkit.webhook.tasks import retry_after_seconds

Clock = Callable[[], datetime]


def _partial_failure(network: str, text: str) -> str | None:
    if network != "google_ads" or "partialFailureError" not in text:
        return None
    try:
        error = loads(text).get("partialFailureError") or {}
    except ValueError:
        return "partial failure"
    return f"partial failure: {error.get('message', '')}"[:500] if error else None


async def send(client: httpx.AsyncClient, batch: Batch, clock: Clock, limit: float) -> Outcome:
    """Send the batch's request; any exception becomes an error outcome (never raised)."""
    now = clock()
    started = time.monotonic()
    if batch.request is None:
        return Outcome(now, 0, error=(batch.error or "no request")[:500])
    request = batch.request

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(limit):
            response = await client.request(
                request.method, request.url, content=request.body, headers=request.headers
            )
            text = (await response.aread())[:1000].decode("utf-8", "replace")
    except TimeoutError:
        return Outcome(now, elapsed(), error=f"timed out after {limit:g} s")
    except BlockedAddress as exc:
        return Outcome(now, elapsed(), error=f"blocked: {exc}")
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        # The message may quote the URL, which may carry a token: hide it.
        return Outcome(now, elapsed(), error=request.hide(f"{type(exc).__name__}: {exc}")[:500])
    error = None
    status = response.status_code
    if response.is_redirect:
        error = "redirect (not followed)"
    elif not response.is_success:
        error = f"HTTP {status}"
    else:
        error = _partial_failure(batch.network, text)
        if error is not None:
            status = 400  # not a success: the network refused what we sent
    return Outcome(
        now,
        elapsed(),
        status_code=status,
        error=error,
        retry_after=retry_after_seconds(response.headers.get("retry-after"), now),
        response_body=request.hide(text) or None,
    )
