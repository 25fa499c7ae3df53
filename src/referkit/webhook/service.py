"""Webhooks: endpoints, the outbox (``emit``), the delivery policy and the delivery log.

Invariant: an event leaves Referkit only as a ``WebhookMessage`` row written by ``emit`` in the
transaction of the change that caused it. If that transaction rolls back, no message exists;
if it commits, the worker delivers the message at least once (``claim`` leases it, ``record``
stores each attempt and decides what happens next).

Delivery policy (``record``): a 2xx is success. Otherwise the message is tried again at 5 s,
5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after its first attempt (±10 % jitter), or after
the receiver's ``Retry-After`` on 429/503; then it is ``failed``. 410 disables the endpoint.
An endpoint failing for 5 days, or on 50 messages in a row, is disabled too; each disable
records a ``webhook.disabled`` message. Messages of a disabled endpoint stay pending and are
delivered once it is enabled again.

Signing secrets are stored encrypted (``kit.crypto.SecretBox``, purpose ``ENCRYPTION_PURPOSE``,
bound to the endpoint id); they are in clear only in the create and rotate answers and in
memory while a message is signed. Targets are checked when stored (``kit.http.private_target``)
and again on every connection.
"""

from __future__ import annotations

import base64
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.errors import NotFound, Unprocessable
from referkit.kit.crypto import DecryptionError, SecretBox
from referkit.kit.http import Resolver, private_target, system_resolver
from referkit.kit.ids import new_id
from referkit.kit.json import dumps, loads
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.tenancy import owned
from referkit.kit.time import utcnow
from referkit.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from referkit.webhook.formats import format_for
from referkit.webhook.repository import WebhookRepository
from referkit.webhook.schemas import (
    ALL_EVENTS,
    EVENT_TYPES,
    MessageStatus,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
)

RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
JITTER = 0.1
MAX_RETRY_AFTER = timedelta(hours=24)
DISABLE_AFTER = timedelta(days=5)
DISABLE_AFTER_MESSAGES = 50
SECRET_OVERLAP = timedelta(hours=24)
SECRET_BYTES = 32
# The HKDF purpose label of signing secrets at rest (Settings.keyring.box(ENCRYPTION_PURPOSE)).
# Each stored secret is bound to its endpoint id, so it cannot be moved to another endpoint.
ENCRYPTION_PURPOSE = "webhook-signing-secret"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True)
class Delivery:
    """A claimed message with what sending it needs, detached from any session."""

    workspace_id: str
    message_id: str
    endpoint_id: str
    url: str
    body: str
    secrets: tuple[str, ...]
    attempt_count: int
    first_attempt_at: datetime | None
    # Set when the signing secret cannot be decrypted (a key is missing): nothing is sent.
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one attempt got back."""

    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    response_body: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class WithSecret:
    """An endpoint and its signing secret in clear, answered once (create, rotate)."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True)
class MessageLog:
    message: WebhookMessage
    attempts: list[WebhookAttempt]


def _field_error(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "in": "body", "message": message, "type": "value_error"}]


class WebhookService:
    """``secrets`` seals and opens signing secrets (needed by create, rotate and claim; the
    outbox alone does without). ``resolver`` answers the create-time DNS check."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        allow_private: bool = True,
        secrets: SecretBox | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.session = session
        self.repo = WebhookRepository(session)
        self.allow_private = allow_private
        self._secrets = secrets
        self.resolver = resolver

    @property
    def secrets(self) -> SecretBox:
        if self._secrets is None:
            raise RuntimeError("this WebhookService was built without a SecretBox")
        return self._secrets

    def _seal(self, endpoint_id: str, secret: str) -> str:
        return self.secrets.encrypt(secret, context=endpoint_id)

    # The outbox ------------------------------------------------------------------------------

    async def emit(
        self, workspace_id: str, livemode: bool, event_type: str, data: dict[str, Any]
    ) -> list[WebhookMessage]:
        """Write one message per enabled endpoint subscribed to ``event_type`` (no commit)."""
        assert event_type in EVENT_TYPES, event_type
        endpoints = [
            e
            for e in await self.repo.enabled_endpoints(workspace_id, livemode)
            if ALL_EVENTS in e.event_types or event_type in e.event_types
        ]
        return await self._messages(endpoints, event_type, data)

    async def _messages(
        self, endpoints: Sequence[WebhookEndpoint], event_type: str, data: dict[str, Any]
    ) -> list[WebhookMessage]:
        if not endpoints:
            return []
        now = utcnow()
        body = dumps(
            {"type": event_type, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data}
        ).decode()

        def body_for(endpoint: WebhookEndpoint) -> str:
            shape = format_for(endpoint.source)
            return body if shape is None else dumps(shape(event_type, data)).decode()

        messages = [
            WebhookMessage(
                id=new_id("msg"),
                workspace_id=endpoint.workspace_id,
                livemode=endpoint.livemode,
                endpoint_id=endpoint.id,
                event_type=event_type,
                body=body_for(endpoint),
                status=MessageStatus.pending.value,
                attempt_count=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            for endpoint in endpoints
        ]
        await self.repo.add(*messages)
        return messages

    # Endpoints -------------------------------------------------------------------------------

    async def _check_target(self, url: str, field: str) -> None:
        if self.allow_private:
            return
        reason = await private_target(url, self.resolver)
        if reason is not None:
            raise Unprocessable(
                "Webhook URLs may not point at private, loopback or link-local addresses "
                f"({reason}).",
                errors=_field_error(field, f"private address: {reason}"),
            )

    async def get(self, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
        return await owned(
            principal,
            endpoint_id,
            prefix="wh",
            noun="webhook endpoint",
            load=self.repo.get_endpoint,
        )

    async def list_endpoints(
        self, principal: Principal, params: PageParams
    ) -> tuple[list[WebhookEndpoint], PageMeta]:
        return await self.repo.page_endpoints(principal.workspace_id, principal.livemode, params)

    async def create(
        self, principal: Principal, body: WebhookEndpointCreate, *, source: str = "api"
    ) -> WithSecret:
        await self._check_target(body.url, "url" if source == "api" else "target_url")
        now = utcnow()
        endpoint_id, secret = new_id("wh"), new_secret()
        endpoint = WebhookEndpoint(
            id=endpoint_id,
            workspace_id=principal.workspace_id,
            livemode=principal.livemode,
            url=body.url,
            description=body.description,
            event_types=body.events,
            enabled=body.enabled,
            source=source,
            secret=self._seal(endpoint_id, secret),
            consecutive_failures=0,
            created_at=now,
            updated_at=now,
        )
        await self.repo.add(endpoint)
        return WithSecret(endpoint, secret)

    async def update(
        self, principal: Principal, endpoint_id: str, body: WebhookEndpointUpdate
    ) -> WebhookEndpoint:
        endpoint = await self.get(principal, endpoint_id)
        changes = body.model_fields_set
        if "url" in changes and body.url is not None:
            await self._check_target(body.url, "url")
            endpoint.url = body.url
        if "events" in changes and body.events is not None:
            endpoint.event_types = body.events
        if "description" in changes:
            endpoint.description = body.description
        if "enabled" in changes and body.enabled is not None and body.enabled != endpoint.enabled:
            endpoint.enabled = body.enabled
            if body.enabled:
                # A fresh start: pending messages are due at their own times (already past
                # for those that waited), and the failure counters begin again.
                endpoint.disabled_reason = endpoint.disabled_at = None
                endpoint.failing_since = None
                endpoint.consecutive_failures = 0
            else:
                endpoint.disabled_reason, endpoint.disabled_at = None, utcnow()
        endpoint.updated_at = utcnow()
        await self.session.flush()
        return endpoint

    async def delete(self, principal: Principal, endpoint_id: str) -> None:
        await self.repo.delete_endpoint(await self.get(principal, endpoint_id))

    async def rotate_secret(self, principal: Principal, endpoint_id: str) -> WithSecret:
        endpoint = await self.get(principal, endpoint_id)
        now, secret = utcnow(), new_secret()
        endpoint.previous_secret = endpoint.secret  # sealed for this endpoint id too
        endpoint.previous_secret_expires_at = now + SECRET_OVERLAP
        endpoint.secret = self._seal(endpoint.id, secret)
        endpoint.updated_at = now
        await self.session.flush()
        return WithSecret(endpoint, secret)

    async def send_test(self, principal: Principal, endpoint_id: str) -> MessageLog:
        endpoint = await self.get(principal, endpoint_id)
        data = {"endpoint_id": endpoint.id, "message": "This is a test message from Referkit."}
        (message,) = await self._messages([endpoint], "webhook.test", data)
        return MessageLog(message, [])

    # The log ---------------------------------------------------------------------------------

    async def messages(
        self,
        principal: Principal,
        endpoint_id: str,
        params: PageParams,
        *,
        status: MessageStatus | None,
        event_type: str | None,
    ) -> tuple[list[MessageLog], PageMeta]:
        endpoint = await self.get(principal, endpoint_id)
        messages, meta = await self.repo.page_messages(
            endpoint.workspace_id,
            endpoint.id,
            params,
            status=status.value if status else None,
            event_type=event_type,
        )
        attempts = await self.repo.attempts_for(endpoint.workspace_id, [m.id for m in messages])
        by_message: dict[str, list[WebhookAttempt]] = {m.id: [] for m in messages}
        for attempt in attempts:
            by_message[attempt.message_id].append(attempt)
        return [MessageLog(m, by_message[m.id]) for m in messages], meta

    async def retry(self, principal: Principal, message_id: str) -> MessageLog:
        """Deliver again now: the message is due at once (the worker picks it up)."""
        message = await owned(
            principal, message_id, prefix="msg", noun="webhook message", load=self.repo.get_message
        )
        now = utcnow()
        message.status = MessageStatus.pending.value
        message.next_attempt_at = now
        message.updated_at = now
        await self.session.flush()
        attempts = await self.repo.attempts_for(message.workspace_id, [message.id])
        return MessageLog(message, attempts)

    async def samples(self, principal: Principal, event_type: str, limit: int = 3) -> list[Any]:
        """Recent real ``data`` objects of one event type (Zapier's sample step)."""
        if event_type not in EVENT_TYPES:
            raise NotFound(f"No event type {event_type!r}.")
        bodies = await self.repo.recent_bodies(
            principal.workspace_id, principal.livemode, event_type, limit * 4
        )
        seen: dict[str, Any] = {}
        for body in bodies:
            data = loads(body).get("data")
            if data is None:
                continue  # a body in another product's shape (webhook.formats), no envelope
            key = str(data.get("id")) if isinstance(data, dict) else body
            seen.setdefault(key, data)
        return list(seen.values())[:limit]

    # The worker's side -----------------------------------------------------------------------

    async def any_due(self, now: datetime) -> bool:
        return await self.repo.any_due(now)

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
        claimed = await self.repo.claim_due(now, now + lease, limit)
        return [self._delivery(message, endpoint, now) for message, endpoint in claimed]

    def _delivery(
        self, message: WebhookMessage, endpoint: WebhookEndpoint, now: datetime
    ) -> Delivery:
        try:
            secrets, error = self._signing_secrets(endpoint, now), None
        except DecryptionError as exc:
            secrets, error = (), f"signing secret unreadable: {exc}"
        return Delivery(
            workspace_id=message.workspace_id,
            message_id=message.id,
            endpoint_id=endpoint.id,
            url=endpoint.url,
            body=message.body,
            secrets=secrets,
            attempt_count=message.attempt_count,
            first_attempt_at=message.first_attempt_at,
            error=error,
        )

    def _signing_secrets(self, endpoint: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
        current = self.secrets.reveal(endpoint.secret, context=endpoint.id)
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_secret and expires is not None and expires > now:
            return (current, self.secrets.reveal(endpoint.previous_secret, context=endpoint.id))
        return (current,)

    async def record(self, delivery: Delivery, outcome: Outcome, rng: random.Random) -> None:
        """Store the attempt and apply the delivery policy."""
        message = await self.repo.message_by_id(delivery.workspace_id, delivery.message_id)
        if message is None:  # the endpoint was deleted while we were sending
            return
        now = outcome.attempted_at
        await self.repo.add(
            WebhookAttempt(
                id=new_id("att"),
                workspace_id=message.workspace_id,
                message_id=message.id,
                attempted_at=now,
                status_code=outcome.status_code,
                duration_ms=outcome.duration_ms,
                error=(outcome.error or None) and outcome.error[:500],
                response_body=(outcome.response_body or None) and outcome.response_body[:1000],
            )
        )
        message.attempt_count += 1
        message.first_attempt_at = message.first_attempt_at or now
        message.last_attempt_at = message.updated_at = now
        if outcome.succeeded:
            message.status = MessageStatus.succeeded.value
            message.delivered_at = now
            message.next_attempt_at = None
            await self.repo.count_success(delivery.workspace_id, delivery.endpoint_id)
            await self.session.flush()
            return
        if outcome.status_code == 410:
            # Gone: the receiver asks us to stop. The message waits for a re-enable.
            message.next_attempt_at = now
            await self.session.flush()
            await self._disable(delivery.workspace_id, delivery.endpoint_id, "gone", now)
            return
        message.next_attempt_at = _next_attempt(message, outcome, now, rng)
        if message.next_attempt_at is None:
            message.status = MessageStatus.failed.value
        await self.session.flush()
        await self.repo.count_failure(
            delivery.workspace_id, delivery.endpoint_id, now, new_message=message.attempt_count == 1
        )
        _, failures, failing_since = await self.repo.failure_state(
            delivery.workspace_id, delivery.endpoint_id
        )
        if failures >= DISABLE_AFTER_MESSAGES or (
            failing_since is not None and now - failing_since >= DISABLE_AFTER
        ):
            await self._disable(delivery.workspace_id, delivery.endpoint_id, "failing", now)

    async def reseal_secrets(self, batch_size: int = 500) -> int:
        """Re-encrypt every stored signing secret under the current key (and encrypt any
        written before encryption existed); the number of endpoints rewritten. All tenants:
        for ``referkit secrets rotate`` only."""
        done, after = 0, ""
        while True:
            endpoints = await self.repo.endpoints_after(after, batch_size)
            if not endpoints:
                return done
            for endpoint in endpoints:
                endpoint.secret = self._seal(
                    endpoint.id, self.secrets.reveal(endpoint.secret, context=endpoint.id)
                )
                if endpoint.previous_secret:
                    previous = self.secrets.reveal(endpoint.previous_secret, context=endpoint.id)
                    endpoint.previous_secret = self._seal(endpoint.id, previous)
            await self.session.flush()
            done += len(endpoints)
            after = endpoints[-1].id

    async def _disable(
        self, workspace_id: str, endpoint_id: str, reason: str, now: datetime
    ) -> None:
        if not await self.repo.disable(workspace_id, endpoint_id, reason, now):
            return
        endpoint = await self.repo.endpoint_by_id(workspace_id, endpoint_id)
        assert endpoint is not None
        await self.session.refresh(endpoint)
        await self._messages(
            [endpoint],
            "webhook.disabled",
            {"endpoint_id": endpoint_id, "reason": reason, "disabled_at": now.isoformat()},
        )


def _next_attempt(
    message: WebhookMessage, outcome: Outcome, now: datetime, rng: random.Random
) -> datetime | None:
    return next_attempt_at(message.attempt_count, message.first_attempt_at, outcome, now, rng)


def next_attempt_at(
    attempt_count: int,
    first_attempt_at: datetime | None,
    outcome: Outcome,
    now: datetime,
    rng: random.Random,
) -> datetime | None:
    """When to try again after failed attempt number ``attempt_count``, or None when the
    schedule is spent (the policy ad-network forwards share)."""
    index = attempt_count - 1
    if index >= len(RETRY_SCHEDULE):
        return None
    if outcome.retry_after is not None and outcome.status_code in (429, 503):
        wait = min(timedelta(seconds=max(1.0, outcome.retry_after)), MAX_RETRY_AFTER)
        return now + wait
    first = first_attempt_at or now
    offset = RETRY_SCHEDULE[index] * (1 + rng.uniform(-JITTER, JITTER))
    return max(first + offset, now + timedelta(seconds=1))
