"""The worker loop: claim due webhook messages, send them, commit each outcome.

Invariant: a message is claimed (leased by pushing ``next_attempt_at`` past the send timeout) and
committed *before* it is sent, and its outcome is committed after (for ad-network forwards, as
soon as that request is answered, whatever the round's other requests are doing). A worker
killed at any point leaves the message pending with a lease that expires, so another worker
(or this one, restarted) sends it again with the same ``webhook-id``: at least once, never
lost. Two workers never hold the same message, because claiming is exclusive (``db.locking``).

Time and jitter are injectable (``clock``, ``rng``) so tests can walk the retry schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError

from referkit.config import Settings
from referkit.db import partitions
from referkit.db.session import SessionFactory
from referkit.integration import tasks as forwarding
from referkit.integration.service import ENCRYPTION_PURPOSE as CREDENTIALS_PURPOSE
from referkit.integration.service import BaseUrls, Batch, IntegrationService
from referkit.kit.http import outbound_client
from referkit.kit.time import utcnow
from referkit.privacy.tasks import PurgeResult, purge_raw_detail
from referkit.reward.service import RewardService
from referkit.webhook.service import ENCRYPTION_PURPOSE, Outcome, WebhookService
from referkit.webhook.tasks import send

logger = logging.getLogger("referkit.worker")
SHUTDOWN_GRACE_SECONDS = 2.0
REWARD_SWEEP_SECONDS = 30.0
RETENTION_SWEEP_SECONDS = 3600.0
RETENTION_FIRST_DELAY_SECONDS = 60.0
# Months are made PREMAKE_MONTHS ahead: a daily round is plenty, the first one at start.
PARTITION_SWEEP_SECONDS = 86400.0


class Worker:
    def __init__(
        self,
        sessions: SessionFactory,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.timeout = settings.webhook_timeout_seconds
        self.lease = timedelta(
            seconds=max(settings.worker_lease_seconds, settings.webhook_timeout_seconds + 1)
        )
        self._own_client = client is None
        self.client = client or outbound_client(
            allow_private=settings.webhook_allow_private_targets, timeout=self.timeout
        )

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    async def run_once(self) -> int:
        """One round of webhook messages and one of ad-network forwards; what was handled."""
        return await self.deliver_webhooks() + await self.forward_events()

    async def forward_events(self) -> int:
        """Claim due forwards (skipping what no network takes), send each batch, commit the
        outcomes; the number of requests sent."""
        async with self.sessions.transaction(write=False) as session:
            if not await IntegrationService(session).any_due(self.clock()):
                return 0
        urls = BaseUrls(
            meta=self.settings.meta_base_url,
            google_ads=self.settings.google_ads_base_url,
            tiktok=self.settings.tiktok_base_url,
        )
        async with self.sessions.transaction() as session:
            secrets = self.settings.keyring.box(CREDENTIALS_PURPOSE)
            batches = await IntegrationService(session, secrets=secrets).claim(
                self.clock(), self.lease, self.settings.worker_batch_size, urls
            )
        if not batches:
            return 0

        async def sent(batch: Batch) -> tuple[Batch, Outcome]:
            return batch, await forwarding.send(self.client, batch, self.clock, self.timeout)

        # Each outcome is committed as soon as its request is answered, not when the slowest
        # request of the round is: a worker killed while one network is slow must not send
        # again what another network already accepted.
        for finished in asyncio.as_completed([sent(b) for b in batches]):
            batch, outcome = await finished
            async with self.sessions.transaction() as session:
                await IntegrationService(session).record(batch, outcome, self.rng)
        return len(batches)

    async def deliver_webhooks(self) -> int:
        """Claim one batch, send it concurrently, commit the outcomes; the batch size."""
        # Look before taking the write lock: an idle worker then never blocks API writers on
        # SQLite, where a write transaction locks the whole database.
        async with self.sessions.transaction(write=False) as session:
            if not await WebhookService(session).any_due(self.clock()):
                return 0
        async with self.sessions.transaction() as session:
            secrets = self.settings.keyring.box(ENCRYPTION_PURPOSE)
            deliveries = await WebhookService(session, secrets=secrets).claim(
                self.clock(), self.lease, self.settings.worker_batch_size
            )
        if not deliveries:
            return 0
        outcomes = await asyncio.gather(
            *(send(self.client, d, self.clock, self.timeout) for d in deliveries)
        )
        async with self.sessions.transaction() as session:
            service = WebhookService(session)
            for delivery, outcome in zip(deliveries, outcomes, strict=True):
                await service.record(delivery, outcome, self.rng)
        return len(deliveries)

    async def run_until_idle(self, max_rounds: int = 1000) -> int:
        """Run batches until nothing is due (tests and one-shot runs); the messages sent."""
        total = 0
        for _ in range(max_rounds):
            sent = await self.run_once()
            if not sent:
                break
            total += sent
        return total

    async def issue_due_rewards(self) -> int:
        """Issue rewards whose hold has ended, in programs that auto-issue."""
        async with self.sessions.transaction(write=False) as session:
            if not await RewardService(session).any_due():
                return 0
        async with self.sessions.transaction() as session:
            return await RewardService(session).issue_due(limit=self.settings.worker_batch_size)

    async def maintain_partitions(self) -> partitions.Maintenance | None:
        """The coming months' partitions on PostgreSQL (pg_partman's maintenance when it is
        installed); None on SQLite."""
        async with self.sessions.transaction() as session:
            done = await partitions.maintain(await session.connection(), self.clock())
        if done is not None and done.created:
            logger.info("partitions made by %s: %s", done.maker, ", ".join(done.created))
        return done

    async def purge_raw_detail(self) -> PurgeResult:
        """Apply every workspace's retention setting (raw click and event detail)."""
        return await purge_raw_detail(self.sessions, self.clock())

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a database hiccup is logged and retried."""
        next_rewards = next_partitions = 0.0
        # The first purge waits a while: a (re)started worker delivers what is due first.
        next_purge = time.monotonic() + RETENTION_FIRST_DELAY_SECONDS
        while not stop.is_set():
            try:
                if time.monotonic() >= next_rewards:
                    next_rewards = time.monotonic() + REWARD_SWEEP_SECONDS
                    await self.issue_due_rewards()
                if time.monotonic() >= next_partitions:
                    next_partitions = time.monotonic() + PARTITION_SWEEP_SECONDS
                    await self.maintain_partitions()
                if time.monotonic() >= next_purge:
                    # Hourly; several workers purging at once only repeat idempotent updates.
                    next_purge = time.monotonic() + RETENTION_SWEEP_SECONDS
                    await self.purge_raw_detail()
                sent = await self.run_once()
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("worker round failed (%s); retrying", type(exc).__name__)
                sent = 0
            except Exception:
                logger.exception("worker round failed; retrying")
                sent = 0
            if sent:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.worker_poll_seconds)


@contextlib.asynccontextmanager
async def running(sessions: SessionFactory, settings: Settings) -> AsyncIterator[Worker]:
    """Run a worker in the background of the current event loop (``referkit serve``)."""
    worker = Worker(sessions, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="referkit-worker")
    try:
        yield worker
    finally:
        stop.set()
        try:
            # A batch still in flight after the grace period is cancelled: its leases expire
            # and another worker sends it again, so a prompt shutdown loses nothing.
            await asyncio.wait_for(task, timeout=SHUTDOWN_GRACE_SECONDS)
        except TimeoutError:
            pass
        finally:
            await worker.aclose()
