"""API keys: issuing, authenticating, regenerating and revoking.

Secrets look like ``rk_live_…`` / ``rk_test_…`` (the mode is visible, as with Stripe keys) and
are stored only as SHA-256 hashes. Public keys (``pk_live_…``) are the user half of Basic auth.
Authentication reads the key row on every request, so a regenerated or revoked secret fails on
the very next call.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Mode, Principal, Scope
from referkit.auth.repository import ApiKeyRepository
from referkit.errors import AuthenticationRequired, InsufficientScope, InvalidApiKey, NotFound
from referkit.kit.crypto import hash_secret, random_token, secrets_match
from referkit.kit.ids import new_id
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.time import utcnow
from referkit.link.changes import link_changes
from referkit.models import ApiKey

LAST_USED_RESOLUTION = timedelta(minutes=1)
_SECRET_PREFIXES = ("rk_live_", "rk_test_", "pk_app_")


class KeyCredentials(Protocol):
    """What authentication reads of an active key: an ``ApiKey`` row, or the plain columns
    ``ApiKeyRepository.credentials`` reads (its limit already falling back to the
    workspace's)."""

    @property
    def id(self) -> str: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def scope(self) -> str: ...
    @property
    def livemode(self) -> bool: ...
    @property
    def rate_limit_per_minute(self) -> int | None: ...
    @property
    def last_used_at(self) -> datetime | None: ...
    @property
    def app_id(self) -> str | None: ...


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str


def use_is_stale(last_used_at: datetime | None) -> bool:
    """``last_used_at`` is kept to a minute: most requests need not write it."""
    return last_used_at is None or utcnow() - last_used_at >= LAST_USED_RESOLUTION


def _manageable_modes(principal: Principal) -> tuple[Mode, ...]:
    """The modes of the keys ``principal`` may create, list, read, change and revoke: a live
    key manages the workspace's test keys as well (it can create them, so it must be able to
    find them again); a test key manages test keys only."""
    return (Mode.live, Mode.test) if principal.livemode else (Mode.test,)


def _new_secret(livemode: bool) -> tuple[str, str]:
    secret = f"rk_{'live' if livemode else 'test'}_{random_token(32)}"
    return secret, f"{secret[:11]}…{secret[-4:]}"


class AuthService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.keys = ApiKeyRepository(session)

    async def issue_key(
        self,
        workspace_id: str,
        *,
        name: str,
        scope: Scope,
        mode: Mode,
        rate_limit_per_minute: int | None = None,
    ) -> IssuedKey:
        livemode = mode is Mode.live
        secret, hint = _new_secret(livemode)
        key = ApiKey(
            id=new_id("key"),
            workspace_id=workspace_id,
            name=name,
            scope=scope.value,
            livemode=livemode,
            public_key=f"pk_{mode.value}_{random_token(12)}",
            secret_hash=hash_secret(secret),
            secret_hint=hint,
            rate_limit_per_minute=rate_limit_per_minute,
            created_at=utcnow(),
        )
        await self.keys.add(key)
        return IssuedKey(key=key, secret=secret)

    async def create_key(
        self,
        principal: Principal,
        *,
        name: str,
        scope: Scope,
        mode: Mode | None,
        rate_limit_per_minute: int | None,
    ) -> IssuedKey:
        mode = mode or principal.mode
        if mode not in _manageable_modes(principal):
            raise InsufficientScope("a test-mode key cannot create live-mode keys")
        return await self.issue_key(
            principal.workspace_id,
            name=name,
            scope=scope,
            mode=mode,
            rate_limit_per_minute=rate_limit_per_minute,
        )

    async def list_keys(
        self,
        principal: Principal,
        include_revoked: bool,
        params: PageParams,
        *,
        mode: Mode | None = None,
    ) -> tuple[list[ApiKey], PageMeta]:
        """The keys of one mode (the caller's by default). A live key may list test keys too,
        having been able to create them; a test key sees test keys only."""
        mode = mode or principal.mode
        if mode not in _manageable_modes(principal):
            raise InsufficientScope("a test-mode key cannot see live-mode keys")
        return await self.keys.page(
            principal.workspace_id, mode is Mode.live, include_revoked, params
        )

    async def get_key(self, principal: Principal, key_id: str) -> ApiKey:
        """One key of the workspace, in any mode the caller may manage (else 404)."""
        livemodes = tuple(mode is Mode.live for mode in _manageable_modes(principal))
        key = await self.keys.get(principal.workspace_id, livemodes, key_id)
        if key is None:
            raise NotFound(f"No API key {key_id} in this workspace.")
        return key

    async def regenerate(self, principal: Principal, key_id: str) -> IssuedKey:
        key = await self.get_key(principal, key_id)
        secret, hint = _new_secret(key.livemode)
        key.secret_hash = hash_secret(secret)
        key.secret_hint = hint
        await self._changed(key)
        return IssuedKey(key=key, secret=secret)

    async def revoke(self, principal: Principal, key_id: str) -> None:
        key = await self.get_key(principal, key_id)
        key.revoked_at = utcnow()
        await self._changed(key)

    async def revoke_named(self, workspace_id: str, name: str) -> None:
        """Revoke every active key of the workspace with this name (the CLI's demo key)."""
        for key in await self.keys.active_named(workspace_id, name):
            key.revoked_at = utcnow()
            await self._changed(key)

    async def _changed(self, key: ApiKey) -> None:
        """Once committed, every process forgets the key's cached credentials (the event
        intake's ``PrincipalCache``): a revoked key or an old secret fails at once."""
        link_changes(self.session).api_keys.add(key.id)
        await self.session.flush()

    async def authenticate(
        self, authorization: str | None, *, record_use: bool = True
    ) -> Principal:
        """Turn an ``Authorization`` header into a Principal, or raise 401.

        With ``record_use=False`` nothing is written; the caller (a read request) then calls
        ``record_use`` in a write transaction of its own when ``use_is_stale`` says so.
        """
        if not authorization:
            raise AuthenticationRequired(
                "Send `Authorization: Bearer rk_live_…` or Basic auth with public_key:secret."
            )
        scheme, _, _credentials = authorization.strip().partition(" ")
        if scheme.lower() not in ("bearer", "basic"):
            raise AuthenticationRequired("Unsupported authorization scheme; use Bearer or Basic.")
        key = await self.identify(authorization)
        if key is None:
            raise InvalidApiKey("The API key is unknown, revoked, or its secret was regenerated.")
        last_used_at = key.last_used_at
        if record_use and use_is_stale(last_used_at):
            await self.record_use(key.id)
            last_used_at = utcnow()
        limit = key.rate_limit_per_minute
        if limit is None and isinstance(key, ApiKey):  # a Bearer key's read joined this in
            limit = await self.keys.workspace_rate_limit(key.workspace_id)
        return Principal(
            workspace_id=key.workspace_id,
            key_id=key.id,
            scope=Scope(key.scope),
            livemode=key.livemode,
            rate_limit_per_minute=limit,
            last_used_at=last_used_at,
            app_id=key.app_id,
        )

    async def identify(self, authorization: str | None) -> KeyCredentials | None:
        """The active key these credentials belong to, or None; never writes, never raises.

        A Bearer secret (every API call but Basic auth) is looked up with one indexed read of
        plain columns, the workspace's default limit joined in (``ApiKeyRepository.credentials``):
        no ORM object per request. Basic credentials load the key's row."""
        if not authorization:
            return None
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        key: KeyCredentials | None = None
        if scheme.lower() == "bearer":
            key = await self._by_secret(credentials)
        elif scheme.lower() == "basic":
            key = await self._by_basic(credentials)
        if key is None or (isinstance(key, ApiKey) and key.revoked_at is not None):
            return None
        return key

    async def update_key(
        self, principal: Principal, key_id: str, changes: dict[str, object]
    ) -> ApiKey:
        key = await self.get_key(principal, key_id)
        if "name" in changes:
            key.name = str(changes["name"])
        if "rate_limit_per_minute" in changes:
            value = changes["rate_limit_per_minute"]
            key.rate_limit_per_minute = int(value) if isinstance(value, int) else None
        await self._changed(key)
        return key

    async def record_use(self, key_id: str) -> None:
        """Set ``last_used_at`` to now, unless it is already within the resolution."""
        now = utcnow()
        await self.keys.record_use(key_id, now, unless_since=now - LAST_USED_RESOLUTION)

    async def _by_secret(self, secret: str) -> KeyCredentials | None:
        if not secret.startswith(_SECRET_PREFIXES) or len(secret) > 200:
            return None
        return await self.keys.credentials(hash_secret(secret))

    async def _by_basic(self, credentials: str) -> KeyCredentials | None:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        user, _, password = decoded.partition(":")
        if user.startswith(_SECRET_PREFIXES) and not password:
            return await self._by_secret(user)  # Stripe-style: the secret as the username
        if len(user) > 100 or len(password) > 200:
            return None
        key = await self.keys.by_public_key(user)
        if key is None or not secrets_match(password, key.secret_hash):
            return None
        return key
