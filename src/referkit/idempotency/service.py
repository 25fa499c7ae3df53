"""Idempotency keys: a POST retried with the same ``Idempotency-Key`` answers what the first
attempt answered, and creates nothing new.

The first request *claims* the key (a row with the request's fingerprint); when it finishes,
its status and body are stored on the row. A retry with the same fingerprint replays them; a
different body under the same key is refused; a retry while the first is still running is told
to wait. A claim whose request died without finishing (a crash) goes stale after a while and can
be taken over. Server errors (5xx) release the claim, so the client may simply retry.

Every stored response body is encrypted (``SecretBox``, purpose ``ENCRYPTION_PURPOSE``, bound to
the record id): some carry a secret shown only once (a new API key, a regenerated one, a
webhook signing secret), and sealing all of them is one rule nobody can forget to apply to the
next route that answers a secret.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referkit.idempotency.repository import IdempotencyRepository
from referkit.kit.crypto import SecretBox
from referkit.kit.ids import new_id
from referkit.kit.time import utcnow
from referkit.models import IdempotencyKey

# The HKDF purpose label of stored responses (Settings.keyring.box(ENCRYPTION_PURPOSE)).
ENCRYPTION_PURPOSE = "idempotent-response"
RETENTION = timedelta(hours=24)
STALE_AFTER = timedelta(minutes=2)


class ClaimResult(enum.Enum):
    proceed = "proceed"
    replay = "replay"
    mismatch = "mismatch"
    in_progress = "in_progress"


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    record: IdempotencyKey | None = None


def stored_body(box: SecretBox, record: IdempotencyKey) -> bytes:
    """The response to replay, decrypted (raises ``DecryptionError`` without its key)."""
    return box.reveal_bytes(record.body or b"", context=record.id)


class IdempotencyService:
    """``box`` seals stored responses (``complete``, ``reseal_all``)."""

    def __init__(self, session: AsyncSession, box: SecretBox | None = None) -> None:
        self.session = session
        self.records = IdempotencyRepository(session)
        self._box = box

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            raise RuntimeError("this IdempotencyService was built without a SecretBox")
        return self._box

    async def claim(self, workspace_id: str, api_key_id: str, key: str, fingerprint: str) -> Claim:
        now = utcnow()
        existing = await self.records.find(workspace_id, api_key_id, key)
        if existing is not None:
            if existing.created_at < now - RETENTION:
                await self.records.remove(existing)
            elif existing.fingerprint != fingerprint:
                return Claim(ClaimResult.mismatch, existing)
            elif existing.completed_at is not None:
                return Claim(ClaimResult.replay, existing)
            elif existing.created_at < now - STALE_AFTER:
                existing.created_at = now  # the first attempt died; this one takes over
                await self.session.flush()
                return Claim(ClaimResult.proceed, existing)
            else:
                return Claim(ClaimResult.in_progress, existing)
        record = IdempotencyKey(
            id=new_id("idem"),
            workspace_id=workspace_id,
            api_key_id=api_key_id,
            key=key,
            fingerprint=fingerprint,
            created_at=now,
        )
        try:
            async with self.session.begin_nested():
                await self.records.add(record)
        except IntegrityError:
            return Claim(ClaimResult.in_progress)
        return Claim(ClaimResult.proceed, record)

    async def complete(
        self,
        workspace_id: str,
        record_id: str,
        status_code: int,
        content_type: str | None,
        body: bytes,
    ) -> None:
        record = await self.records.get(workspace_id, record_id)
        if record is None:
            return
        record.status_code = status_code
        record.content_type = content_type
        record.body = self.box.seal(body, context=record.id)
        record.completed_at = utcnow()
        await self.session.flush()

    async def release(self, workspace_id: str, record_id: str) -> None:
        record = await self.records.get(workspace_id, record_id)
        if record is not None:
            await self.records.remove(record)

    async def purge_expired(self) -> int:
        return await self.records.purge(utcnow() - RETENTION)

    async def reseal_all(self, batch_size: int = 500) -> int:
        """Re-encrypt every stored response under the current key (and encrypt any stored
        before encryption existed); the number rewritten. For ``referkit secrets rotate``."""
        done, after = 0, ""
        while True:
            records = await self.records.completed_after(after, batch_size)
            if not records:
                return done
            for record in records:
                plain = self.box.reveal_bytes(record.body or b"", context=record.id)
                record.body = self.box.seal(plain, context=record.id)
            await self.session.flush()
            done += len(records)
            after = records[-1].id
