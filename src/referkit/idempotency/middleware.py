"""``Idempotency-Key`` handling for every POST under /api/ (pure ASGI).

It must see the whole exchange — the request body to fingerprint it, the response to store it —
so it wraps the app rather than living in a dependency. Keys are scoped per API key; a request
whose credentials are not valid passes straight through and gets its 401 from the app.

A request with valid credentials passes the IP block and the key's rate limit here, before its
key is claimed (``auth.gate``): a stored replay is answered like any request — refused from a
blocked IP or past the limit, with the rate-limit headers otherwise — and a refused request
does not take up the key.
"""

from __future__ import annotations

import hashlib
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referkit.auth.gate import check_ip, count_request
from referkit.auth.principal import Principal
from referkit.auth.service import AuthService
from referkit.config import Settings
from referkit.db.session import SessionFactory
from referkit.errors import ReferkitError, error_response, problem_response
from referkit.idempotency.service import (
    ENCRYPTION_PURPOSE,
    ClaimResult,
    IdempotencyService,
    stored_body,
)
from referkit.kit.crypto import DecryptionError, SecretBox
from referkit.kit.net import client_ip
from referkit.kit.ratelimit import RateLimiter
from referkit.models import IdempotencyKey

logger = logging.getLogger("referkit.idempotency")
HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith("/api/")
        ):
            await self.app(scope, receive, send)
            return
        key = _header(scope, HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            response = problem_response(
                422,
                "validation_error",
                "Invalid request",
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
                errors=[
                    {
                        "field": "Idempotency-Key",
                        "in": "header",
                        "message": "invalid",
                        "type": "value_error",
                    }
                ],
            )
            await response(scope, receive, send)
            return
        await self._idempotent(scope, receive, send, key.strip())

    async def _idempotent(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        body = await _read_body(receive)
        sessions: SessionFactory = scope["app"].state.sessions
        async with sessions(write=False) as session:
            try:
                principal = await AuthService(session).authenticate(
                    _header(scope, b"authorization"), record_use=False
                )
            except ReferkitError:
                principal = None  # the app answers the 401 (and counts the failure)
        replay_receive = _replay(body, receive)
        if principal is None:
            await self.app(scope, replay_receive, send)
            return
        try:
            await _gates(scope, principal)
        except ReferkitError as exc:
            await error_response(exc)(scope, receive, send)
            return
        fingerprint = hashlib.sha256(
            b"\0".join(
                [
                    scope["method"].encode(),
                    scope["path"].encode(),
                    scope.get("query_string", b""),
                    body,
                ]
            )
        ).hexdigest()
        async with sessions.transaction() as session:
            claim = await IdempotencyService(session).claim(
                principal.workspace_id, principal.key_id, key, fingerprint
            )
        if claim.result is ClaimResult.mismatch:
            response = problem_response(
                422,
                "idempotency_key_reused",
                "Idempotency key reused",
                "This Idempotency-Key was used with a different request; use a new key.",
            )
            await response(scope, receive, send)
            return
        if claim.result is ClaimResult.in_progress:
            response = problem_response(
                409,
                "idempotency_in_progress",
                "Request in progress",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)
            return
        assert claim.record is not None
        if claim.result is ClaimResult.replay:
            await _replay_stored(scope, receive, send, claim.record)
            return
        await self._run_and_store(scope, replay_receive, send, sessions, claim.record)

    async def _run_and_store(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        sessions: SessionFactory,
        record: IdempotencyKey,
    ) -> None:
        status = 500
        content_type: str | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"content-type":
                        content_type = bytes(value).decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        completed = False
        try:
            await self.app(scope, receive, capture)
            completed = status < 500
        finally:
            async with sessions.transaction() as session:
                service = IdempotencyService(session, _box(scope))
                if completed:
                    await service.complete(
                        record.workspace_id, record.id, status, content_type, b"".join(chunks)
                    )
                else:
                    await service.release(record.workspace_id, record.id)


async def _gates(scope: Scope, principal: Principal) -> None:
    """The IP block and the rate limit, as the auth dependency applies them (it then skips the
    count taken here)."""
    state = scope["app"].state
    settings: Settings = state.settings
    limiter: RateLimiter = state.limiter
    ip = client_ip(scope, settings.trusted_networks)
    await check_ip(limiter, ip)
    if settings.rate_limit_enabled:
        request_state = scope.setdefault("state", {})
        await count_request(
            limiter,
            principal,
            request_state,
            per_minute=settings.rate_limit_per_minute,
            ip=ip,
            app_client_per_minute=settings.app_client_rate_limit_per_minute,
        )


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the buffered body to the app once, then defer to the real channel (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _box(scope: Scope) -> SecretBox:
    settings: Settings = scope["app"].state.settings
    return settings.keyring.box(ENCRYPTION_PURPOSE)


async def _replay_stored(
    scope: Scope, receive: Receive, send: Send, record: IdempotencyKey
) -> None:
    try:
        body = stored_body(_box(scope), record)
    except DecryptionError as exc:
        logger.error("idempotent replay of %s: %s", record.id, exc)
        response = problem_response(
            503,
            "service_unavailable",
            "Stored response unreadable",
            "The response stored for this Idempotency-Key was encrypted with a key this server "
            "is not configured with.",
        )
        await response(scope, receive, send)
        return
    await _send_stored(send, record.status_code or 200, record.content_type, body)


async def _send_stored(send: Send, status: int, content_type: str | None, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
    if content_type:
        headers.append((b"content-type", content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
