"""Integrations: settings per app and network, the forward outbox, the log and the dry run.

Invariant: an app event leaves for an ad network only as an ``IntegrationForward`` row written
by ``enqueue`` in the transaction that stores (and attributes) the event; test-mode events never
get one. The worker claims due forwards (a lease, as for webhook messages), builds each
network's request with ``networks.build`` (the dry run's builder too), sends it, and ``record``
stores one attempt per forward and applies the webhook retry policy. Events older than a
network accepts are marked ``skipped`` instead of being tried.

Credentials are a JSON object sealed with ``Settings.keyring.box(ENCRYPTION_PURPOSE)`` and bound
to the integration id; they are opened only to build a request, never answered or logged.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.db.session import batch_memo
from referkit.errors import NotFound, Unprocessable
from referkit.event.record import StoredEvent
from referkit.integration import networks
from referkit.integration.networks import Request
from referkit.integration.repository import IntegrationRepository
from referkit.integration.schemas import ForwardStatus, IntegrationsUpdate, IntegrationUpdate
from referkit.kit.crypto import DecryptionError, SecretBox
from referkit.kit.http import Resolver, UnsupportedUrl, check_url, private_target, system_resolver
from referkit.kit.ids import new_id
from referkit.kit.json import dumps, loads
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.time import as_utc, utcnow
from referkit.models import App, Integration, IntegrationAttempt, IntegrationForward
from referkit.webhook.service import Outcome, next_attempt_at

ENCRYPTION_PURPOSE = "integration-credentials"
OPTIONAL_CONFIG = {"google_ads": ("login_customer_id",)}


@dataclass(frozen=True)
class BaseUrls:
    meta: str
    google_ads: str
    tiktok: str

    def of(self, network: str) -> str:
        return str(getattr(self, network, ""))


@dataclass(frozen=True)
class Batch:
    """Claimed forwards of one integration that go out in one request."""

    network: str
    forwards: tuple[tuple[str, int], ...]  # (forward id, attempts made before this one)
    request: Request | None
    error: str | None = None  # set when no request could be built: nothing is sent


@dataclass(frozen=True)
class ForwardLog:
    forward: IntegrationForward
    network: str
    attempts: list[IntegrationAttempt]


@dataclass(frozen=True)
class DryRunResult:
    network: str
    event_id: str | None
    would_send: bool
    reason: str | None
    request: dict[str, Any] | None


def our_event_key(event: StoredEvent) -> str:
    """The name the event map is keyed by: the type, or a custom event's own name."""
    return (event.name or event.type) if event.type == "custom" else event.type


def mapped_name(integration: Integration, event: StoredEvent) -> str | None:
    key = our_event_key(event)
    mapped = integration.event_map.get(key)
    if mapped is None and event.name:
        mapped = integration.event_map.get(event.name)
    if mapped is None and integration.network == "postback" and not integration.event_map:
        return key  # a postback with no map forwards every event under its own name
    return mapped


def _field_error(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "in": "body", "message": message, "type": "value_error"}]


class IntegrationService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        secrets: SecretBox | None = None,
        allow_private: bool = True,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.session = session
        self.repo = IntegrationRepository(session)
        self._secrets = secrets
        self.allow_private = allow_private
        self.resolver = resolver

    @property
    def secrets(self) -> SecretBox:
        if self._secrets is None:
            raise RuntimeError("this IntegrationService was built without a SecretBox")
        return self._secrets

    # Facts: what a request is built from ---------------------------------------------------

    async def facts(
        self, app: App, event: StoredEvent, identity: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The event as every network's builder reads it; personal data already hashed."""
        identity = identity or {}
        attribution = event.attribution or {}
        click = None
        if event.click_id:
            click = await self.repo.click(event.workspace_id, event.livemode, event.click_id)
        customer = (
            await self.repo.customer(event.workspace_id, event.customer_id)
            if event.customer_id
            else None
        )
        properties = event.properties or {}
        platform = (click.platform if click else None) or properties.get("os")
        platforms = app.platforms or {}
        package = (platforms.get("ios") or {}).get("bundle_id") if platform == "ios" else None
        package = package or (platforms.get("android") or {}).get("package")
        email = identity.get("email") or (customer.email if customer else None)
        external_id = identity.get("external_id") or (customer.external_id if customer else None)
        return {
            "event_id": event.event_id,
            "ref": event.id,
            "type": event.type,
            "name": event.name,
            "occurred_at": as_utc(event.occurred_at).isoformat(),
            "amount": event.amount,
            "currency": event.currency,
            "app_id": event.app_id,
            "install_id": attribution.get("install_id")
            or (event.id if event.type == "install" else None),
            "click_id": event.click_id,
            "link_id": event.link_id,
            "network": attribution.get("network") or (click.network if click else None),
            "campaign": attribution.get("campaign") or (click.campaign if click else None),
            "ad_click_param": click.ad_click_param if click else None,
            "ad_click_id": click.ad_click_id if click else None,
            "platform": platform,
            "os_version": click.os_version if click else None,
            "package": package,
            "ip": event.ip,
            "user_agent": event.user_agent,
            "advertising_id": identity.get("advertising_id"),
            "hashed": {
                "em": networks.normalised_hash(email, kind="email"),
                "external_id": networks.normalised_hash(external_id, kind="id"),
            },
        }

    # The outbox ------------------------------------------------------------------------------

    async def enqueue(
        self, app: App, event: StoredEvent, identity: dict[str, str] | None = None
    ) -> list[IntegrationForward]:
        """Write a forward per enabled integration that takes this event (no commit)."""
        if not event.livemode:
            return []  # test-mode events are never forwarded
        forwards: list[IntegrationForward] = []
        facts: dict[str, Any] | None = None
        now = utcnow()
        for integration in await self._enabled(app):
            if integration.send == "attributed" and event.click_id is None:
                continue
            name = mapped_name(integration, event)
            if name is None:
                continue
            facts = facts if facts is not None else await self.facts(app, event, identity)
            forwards.append(
                IntegrationForward(
                    id=new_id("fwd"),
                    workspace_id=event.workspace_id,
                    livemode=event.livemode,
                    integration_id=integration.id,
                    event_id=event.id,
                    event_name=name,
                    facts={**facts, "event_name": name},
                    status=ForwardStatus.pending.value,
                    attempt_count=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        if forwards:
            self.session.add_all(forwards)
        return forwards

    async def _enabled(self, app: App) -> list[Integration]:
        """The app's enabled integrations; read once per event batch."""
        memo = batch_memo(self.session)
        key = ("integration.enabled", app.id)
        found: list[Integration] | None = memo.get(key) if memo is not None else None
        if found is None:
            found = await self.repo.enabled_for_app(app.workspace_id, app.id)
            if memo is not None:
                memo[key] = found
        return found

    # Settings --------------------------------------------------------------------------------

    async def all(self, app: App) -> list[Integration]:
        """One entry per network; networks never configured come back as disabled defaults."""
        stored = {i.network: i for i in await self.repo.for_app(app.workspace_id, app.id)}
        return [stored.get(n) or self._blank(app, n) for n in networks.NETWORKS]

    @staticmethod
    def _blank(app: App, network: str) -> Integration:
        return Integration(
            id="",
            workspace_id=app.workspace_id,
            livemode=app.livemode,
            app_id=app.id,
            network=network,
            enabled=False,
            send="attributed",
            event_map={},
            config={},
            credentials=None,
        )

    def credential_names(self, integration: Integration) -> list[str]:
        return sorted(self._credentials(integration)) if integration.credentials else []

    def _credentials(self, integration: Integration) -> dict[str, str]:
        if not integration.credentials:
            return {}
        opened: dict[str, str] = loads(
            self.secrets.decrypt(integration.credentials, context=integration.id)
        )
        return opened

    async def update(self, app: App, body: IntegrationsUpdate) -> list[Integration]:
        stored = {i.network: i for i in await self.repo.for_app(app.workspace_id, app.id)}
        now = utcnow()
        for index, change in enumerate(body.data):
            integration = stored.get(change.network.value)
            if integration is None:
                integration = self._blank(app, change.network.value)
                integration.id, integration.created_at = new_id("intg"), now
                stored[integration.network] = integration
                self.session.add(integration)
            await self._apply(integration, change, f"data.{index}")
            integration.updated_at = now
        await self.session.flush()
        return await self.all(app)

    async def _apply(self, integration: Integration, change: IntegrationUpdate, at: str) -> None:
        network = integration.network
        if change.config is not None:
            allowed = networks.CONFIG_FIELDS[network] + OPTIONAL_CONFIG.get(network, ())
            unknown = sorted(set(change.config) - set(allowed))
            if unknown:
                raise Unprocessable(
                    f"Unknown {network} config field(s): {', '.join(unknown)}.",
                    errors=_field_error(f"{at}.config", f"allowed: {', '.join(allowed)}"),
                )
            if network == "postback" and change.config.get("url"):
                await self._check_postback(change.config["url"], f"{at}.config.url")
            integration.config = {**integration.config, **change.config}
        if change.credentials is not None:
            allowed = networks.CREDENTIAL_FIELDS[network]
            unknown = sorted(set(change.credentials) - set(allowed))
            if unknown:
                raise Unprocessable(
                    f"Unknown {network} credential field(s): {', '.join(unknown)}.",
                    errors=_field_error(f"{at}.credentials", f"allowed: {', '.join(allowed)}"),
                )
            merged = {**self._credentials(integration), **change.credentials}
            merged = {k: v for k, v in merged.items() if v}  # "" removes a credential
            integration.credentials = self.secrets.encrypt(
                dumps(merged).decode(), context=integration.id
            )
        if change.event_map is not None:
            integration.event_map = dict(change.event_map)
        if change.send is not None:
            integration.send = change.send.value
        if change.enabled is not None:
            integration.enabled = change.enabled

    async def reseal_credentials(self, batch_size: int = 500) -> int:
        """Re-encrypt every stored credential set under the current key; how many. All
        tenants: for ``referkit secrets rotate`` only."""
        done, after = 0, ""
        while True:
            rows = await self.repo.with_credentials_after(after, batch_size)
            if not rows:
                return done
            for row in rows:
                assert row.credentials is not None
                opened = self.secrets.decrypt(row.credentials, context=row.id)
                row.credentials = self.secrets.encrypt(opened, context=row.id)
            await self.session.flush()
            done += len(rows)
            after = rows[-1].id

    async def _check_postback(self, url: str, field: str) -> None:
        try:
            check_url(url.replace("{", "").replace("}", ""))
        except UnsupportedUrl as exc:
            raise Unprocessable(str(exc), errors=_field_error(field, str(exc))) from None
        if self.allow_private:
            return
        reason = await private_target(url, self.resolver)
        if reason is not None:
            raise Unprocessable(
                "Postback URLs may not point at private, loopback or link-local addresses "
                f"({reason}).",
                errors=_field_error(field, f"private address: {reason}"),
            )

    async def _configured(self, app: App, network: str) -> Integration:
        for integration in await self.repo.for_app(app.workspace_id, app.id):
            if integration.network == network:
                return integration
        raise NotFound(f"No {network} integration is configured for app {app.id}.")

    # The log ---------------------------------------------------------------------------------

    async def log(
        self, app: App, network: str, params: PageParams
    ) -> tuple[list[ForwardLog], PageMeta]:
        integration = await self._configured(app, network)
        forwards, meta = await self.repo.page_forwards(app.workspace_id, integration.id, params)
        attempts = await self.repo.attempts_for(app.workspace_id, [f.id for f in forwards])
        by_forward: dict[str, list[IntegrationAttempt]] = {f.id: [] for f in forwards}
        for attempt in attempts:
            by_forward[attempt.forward_id].append(attempt)
        return [ForwardLog(f, network, by_forward[f.id]) for f in forwards], meta

    async def retry(self, app: App, network: str, forward_id: str) -> ForwardLog:
        """Send again now: the forward is due at once (the worker picks it up)."""
        integration = await self._configured(app, network)
        forward = await self.repo.forward(app.workspace_id, integration.id, forward_id)
        if forward is None:
            raise NotFound(f"No forward {forward_id} in the {network} log of app {app.id}.")
        now = utcnow()
        forward.status = ForwardStatus.pending.value
        forward.next_attempt_at = forward.updated_at = now
        await self.session.flush()
        attempts = await self.repo.attempts_for(app.workspace_id, [forward.id])
        return ForwardLog(forward, network, attempts)

    # The dry run -----------------------------------------------------------------------------

    async def dry_run(
        self, principal: Principal, app: App, network: str, event_ref: str | None, urls: BaseUrls
    ) -> DryRunResult:
        integration = await self._configured(app, network)
        if event_ref is not None:
            event = await self.repo.event(
                app.id, principal.workspace_id, principal.livemode, event_ref
            )
            if event is None:
                raise NotFound(f"No event {event_ref} of app {app.id}.")
        else:
            event = await self.repo.latest_event(app.id, principal.workspace_id, principal.livemode)
            if event is None:
                raise NotFound(f"App {app.id} has no events yet to show a request for.")
        name = mapped_name(integration, event)
        if name is None:
            missing = f"the event map has no entry for {our_event_key(event)!r}"
            return DryRunResult(network, event.id, False, missing, None)
        # The forward's own facts when the event was queued (they hold the hashed identity the
        # request carried); otherwise the facts the stored event gives.
        forward = await self.repo.forward_of(integration.workspace_id, integration.id, event.id)
        facts = forward.facts if forward else {**await self.facts(app, event), "event_name": name}
        reason = self._reason_not_sent(integration, event, facts)
        if networks.unsendable(network, facts):
            return DryRunResult(network, event.id, False, reason, None)
        request = networks.build(
            network, integration.config, self._credentials(integration), [facts], urls.of(network)
        )
        return DryRunResult(network, event.id, reason is None, reason, request.summary())

    @staticmethod
    def _reason_not_sent(
        integration: Integration, event: StoredEvent, facts: dict[str, Any]
    ) -> str | None:
        if not event.livemode:
            return "test-mode events are never forwarded"
        if not integration.enabled:
            return "the integration is disabled"
        if integration.send == "attributed" and event.click_id is None:
            return "the event is not attributed and the integration sends attributed events only"
        if networks.too_old(integration.network, facts, utcnow()):
            return f"the event is older than {integration.network} accepts"
        return networks.unsendable(integration.network, facts)

    # The worker's side -----------------------------------------------------------------------

    async def any_due(self, now: datetime) -> bool:
        return await self.repo.any_due(now)

    async def claim(
        self, now: datetime, lease: timedelta, limit: int, urls: BaseUrls
    ) -> list[Batch]:
        """Lease due forwards; skip the ones no network would take; batch the rest."""
        groups: dict[str, tuple[Integration, list[IntegrationForward]]] = {}
        for forward, integration in await self.repo.claim_due(now, now + lease, limit):
            groups.setdefault(integration.id, (integration, []))[1].append(forward)
        batches: list[Batch] = []
        for integration, forwards in groups.values():
            network = integration.network
            sendable = []
            for forward in forwards:
                why = networks.unsendable(network, forward.facts)
                if why is None and networks.too_old(network, forward.facts, now):
                    why = f"older than {network} accepts ({networks.MAX_AGE[network]})"
                if why is None:
                    sendable.append(forward)
                else:
                    await self._skip(forward, why, now)
            size = networks.BATCH_LIMIT[network]
            for start in range(0, len(sendable), size):
                chunk = sendable[start : start + size]
                batches.append(self._batch(integration, chunk, urls))
        return batches

    def _batch(
        self, integration: Integration, forwards: Sequence[IntegrationForward], urls: BaseUrls
    ) -> Batch:
        ids = tuple((f.id, f.attempt_count) for f in forwards)
        try:
            credentials = self._credentials(integration)
        except DecryptionError as exc:
            return Batch(integration.network, ids, None, f"credentials unreadable: {exc}")
        request = networks.build(
            integration.network,
            integration.config,
            credentials,
            [f.facts for f in forwards],
            urls.of(integration.network),
        )
        return Batch(integration.network, ids, request)

    async def _skip(self, forward: IntegrationForward, why: str, now: datetime) -> None:
        forward.status = ForwardStatus.skipped.value
        forward.next_attempt_at = None
        forward.updated_at = now
        self.session.add(
            IntegrationAttempt(
                id=new_id("fat"),
                workspace_id=forward.workspace_id,
                forward_id=forward.id,
                attempt=forward.attempt_count,
                attempted_at=now,
                outcome="skipped",
                request={},
                duration_ms=0,
                error=why[:500],
            )
        )
        await self.session.flush()

    async def record(self, batch: Batch, outcome: Outcome, rng: random.Random) -> None:
        """Store one attempt per forward of the batch and apply the retry policy."""
        now = outcome.attempted_at
        summary = batch.request.summary() if batch.request is not None else {}
        rows = {f.id: f for f in await self.repo.forwards_by_id([i for i, _ in batch.forwards])}
        for forward_id, _ in batch.forwards:
            forward = rows.get(forward_id)
            if forward is None:  # the integration was deleted while we were sending
                continue
            forward.attempt_count += 1
            forward.first_attempt_at = forward.first_attempt_at or now
            forward.last_attempt_at = forward.updated_at = now
            if outcome.succeeded:
                forward.status = ForwardStatus.succeeded.value
                forward.delivered_at, forward.next_attempt_at = now, None
            else:
                forward.next_attempt_at = next_attempt_at(
                    forward.attempt_count, forward.first_attempt_at, outcome, now, rng
                )
                if forward.next_attempt_at is None:
                    forward.status = ForwardStatus.failed.value
            self.session.add(
                IntegrationAttempt(
                    id=new_id("fat"),
                    workspace_id=forward.workspace_id,
                    forward_id=forward.id,
                    attempt=forward.attempt_count,
                    attempted_at=now,
                    outcome="succeeded" if outcome.succeeded else "failed",
                    request=summary,
                    status_code=outcome.status_code,
                    duration_ms=outcome.duration_ms,
                    error=(outcome.error or None) and outcome.error[:500],
                    response_body=(outcome.response_body or None) and outcome.response_body[:1000],
                )
            )
        await self.session.flush()
