"""Settings: the one place that reads the environment.

Every setting is a ``REFERKIT_*`` variable. Unknown ``REFERKIT_*`` variables fail fast so a typo
(``REFERKIT_DATABSE_URL``) never silently falls back to a default. ``REFERKIT_TEST_*`` variables
belong to the test suite and are ignored here.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from referkit.kit.crypto import KeyRing
from referkit.kit.net import Network, parse_networks
from referkit.skan.verify import load_key

ENV_PREFIX = "REFERKIT_"
_IGNORED_PREFIXES = ("REFERKIT_TEST_",)


class Environment(StrEnum):
    development = "development"
    production = "production"


class SettingsError(Exception):
    """Raised with a readable message when the configuration is unusable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    env: Environment = Environment.development
    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; defaults to a SQLite file in the data directory.",
    )
    database_pgbouncer: bool = Field(
        default=False,
        description="The PostgreSQL URL points at PgBouncer in transaction pooling mode: keep "
        "no prepared statement or other session state across transactions.",
    )
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = Field(default=None, min_length=32)
    secret_key_previous: str = Field(
        default="",
        description="Comma-separated retired secret keys: still accepted to decrypt stored "
        "secrets until `referkit secrets rotate` has re-encrypted them (docs/security.md).",
    )
    database_replica_url: str | None = Field(
        default=None,
        description="A streaming replica of the PostgreSQL primary: stats and list reads go "
        "there, with read-your-writes (docs/scaling.md).",
    )
    database_replica_max_lag_seconds: float = Field(default=5.0, ge=0, le=3600)
    redis_url: str | None = None
    log_level: str = "info"
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_echo: bool = False

    # API protection
    rate_limit_enabled: bool = True
    rate_limit_per_minute: int = Field(
        default=600, ge=1, le=10_000_000, description="Default per-key request limit."
    )
    app_client_rate_limit_per_minute: int = Field(
        default=120,
        ge=1,
        le=1_000_000,
        description="Requests per minute an app client key (`pk_app_…`) may make from one IP.",
    )
    redis_prefix: str = Field(default="referkit", min_length=1, max_length=100)
    auth_failure_limit: int = Field(default=20, ge=1, description="Failed auths before a block.")
    auth_failure_window_seconds: int = Field(default=300, ge=1)
    auth_block_seconds: int = Field(default=900, ge=1)
    trusted_proxies: str = Field(
        default="", description="Comma-separated IPs/CIDRs whose X-Forwarded-* are believed."
    )
    require_https: bool = False
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_batch_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    request_timeout_seconds: float = Field(
        default=30.0,
        ge=0,
        description="A request handled longer than this is cancelled: 503 (0: no limit).",
    )
    request_body_timeout_seconds: float = Field(
        default=10.0,
        ge=0,
        description="A request body not fully received this long after the request began "
        "answers 408 (0: no limit).",
    )
    embed_rate_limit_per_minute: int = Field(
        default=120,
        ge=1,
        le=10_000_000,
        description="Requests a minute one embed token may make (dashboard page and "
        "/api/v1/embed/me together).",
    )
    skan_postback_rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        le=10_000_000,
        description="Apple postbacks per client IP per minute at /api/skan/postback (0: no limit).",
    )
    skan_extra_public_keys: str = Field(
        default="",
        description="Comma-separated base64 DER (SPKI) P-256 public keys trusted besides Apple's "
        "for SKAdNetwork and AdAttributionKit postback signatures (test or development keys).",
    )
    redirect_rate_limit: int = Field(
        default=6000, ge=0, description="Redirects per client IP per minute (0: no limit)."
    )

    # Links, clicks and events (hot paths)
    link_cache_ttl_seconds: float = Field(
        default=10.0, ge=0, description="How long /r/{code} keeps a link in memory (0: off)."
    )
    embed_cache_ttl_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a process keeps a member's embedded dashboard in memory (0: off). "
        "Writes drop it at once in the process that made them and, with Redis, in every "
        "process; without Redis, other processes may show it this long after a change.",
    )
    auth_cache_ttl_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long the event intake trusts credentials this process authenticated "
        "(0: off). A key revoked through another process stops working within this time.",
    )
    ingest_batch_max_size: int = Field(
        default=512, ge=1, le=10_000, description="Most clicks or events per group commit."
    )
    ingest_batch_max_delay_ms: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description="Extra wait for more rows before a commit (0: rows that arrive during a "
        "commit form the next batch).",
    )
    click_recording: bool = Field(
        default=True, description="Record clicks (turn off only to benchmark the redirect)."
    )

    # Webhooks and the worker
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Allow webhook URLs on private, loopback and link-local addresses.",
    )
    webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, le=120, description="A delivery succeeds with a 2xx within this."
    )
    worker_in_process: bool = Field(
        default=True, description="Run the worker inside `referkit serve` processes."
    )
    worker_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    worker_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="A claimed message is redelivered after this if its worker died.",
    )
    worker_batch_size: int = Field(default=20, ge=1, le=1000)
    # Ad-network forwarding: where each network's API lives (tests point them at loopback).
    meta_base_url: str = Field(
        default="https://graph.facebook.com", description="Meta Graph API (Conversions API)."
    )
    google_ads_base_url: str = Field(
        default="https://googleads.googleapis.com", description="Google Ads API (REST)."
    )
    tiktok_base_url: str = Field(
        default="https://business-api.tiktok.com", description="TikTok Business API (Events 2.0)."
    )

    @field_validator("secret_key_previous")
    @classmethod
    def _previous_keys(cls, value: str) -> str:
        if any(len(part.strip()) < 32 for part in value.split(",") if part.strip()):
            raise ValueError("each previous key must be at least 32 characters")
        return value

    # The web dashboard
    dashboard_idle_minutes: int = Field(
        default=120, ge=1, le=60 * 24 * 30, description="A session unused this long ends."
    )
    dashboard_session_hours: int = Field(
        default=24 * 7, ge=1, le=24 * 365, description="A session ends this long after sign-in."
    )
    dashboard_login_failures: int = Field(
        default=5, ge=1, description="Failed sign-ins per account before it is throttled."
    )
    dashboard_login_ip_failures: int = Field(
        default=20, ge=1, description="Failed sign-ins per client IP before it is throttled."
    )
    dashboard_login_window_seconds: int = Field(
        default=900, ge=1, description="How long failed sign-ins count (and throttle)."
    )

    @field_validator("skan_extra_public_keys")
    @classmethod
    def _skan_keys(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                load_key(item)
            except ValueError as error:
                raise ValueError(f"not a base64 DER EC public key: {item[:20]}…") from error
        return value

    @property
    def skan_public_keys(self) -> list[str]:
        return [part.strip() for part in self.skan_extra_public_keys.split(",") if part.strip()]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        try:
            parse_networks(value)
        except ValueError as exc:
            raise ValueError(f"not a list of IP addresses or networks ({exc})") from None
        return value

    @property
    def trusted_networks(self) -> tuple[Network, ...]:
        # parse_networks remembers its answers: every redirect and API request reads this.
        return parse_networks(self.trusted_proxies)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url", "database_replica_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+asyncpg://" + value.removeprefix("postgresql://")
        if value.startswith("sqlite://") and not value.startswith("sqlite+aiosqlite://"):
            value = "sqlite+aiosqlite://" + value.removeprefix("sqlite://")
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("only postgresql:// and sqlite:// URLs are supported")
        return value

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.env is Environment.production and not self.secret_key:
            raise ValueError("REFERKIT_SECRET_KEY is required when REFERKIT_ENV=production")
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy whose derived values (``cached_property``) are derived again from the copy's
        own fields: a copy with another ``secret_key`` must not keep the old key ring."""
        copied = super().model_copy(update=update, deep=deep)
        for name in _CACHED:
            copied.__dict__.pop(name, None)
        return copied

    @cached_property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'referkit.db').resolve()}"

    @model_validator(mode="after")
    def _replica_needs_postgres(self) -> Settings:
        if self.database_replica_url and (
            self.is_sqlite or not self.database_replica_url.startswith("postgresql")
        ):
            raise ValueError("REFERKIT_DATABASE_REPLICA_URL needs PostgreSQL on both sides")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @cached_property
    def signing_key(self) -> bytes:
        """The secret used to sign tokens; generated once into the data dir in development."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            # Several processes may start at once (``--workers``): write a private temporary
            # file, then hard-link it into place, which never replaces an existing key. Nobody
            # can read a half-written key, and every process ends up with the first key.
            self.data_dir.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(8)}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        key = path.read_text().strip()
        if not key:
            raise SettingsError(f"{path} is empty; delete it to generate a new secret key")
        return key.encode()

    @cached_property
    def keyring(self) -> KeyRing:
        """The keys that encrypt stored secrets: ``signing_key`` seals, retired keys still open."""
        previous = [p.strip().encode() for p in self.secret_key_previous.split(",") if p.strip()]
        return KeyRing(self.signing_key, previous)


_CACHED = tuple(n for n, v in vars(Settings).items() if isinstance(v, cached_property))


def _unknown_variables(environ: dict[str, str]) -> list[str]:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    # Names are matched case-insensitively (``referkit_base_url`` is read too), so are typos.
    return sorted(
        key
        for key in environ
        if (name := key.upper()).startswith(ENV_PREFIX)
        and not name.startswith(_IGNORED_PREFIXES)
        and name not in known
    )


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment (plus explicit overrides) or raise SettingsError."""
    unknown = _unknown_variables(dict(os.environ))
    if unknown:
        known = ", ".join(sorted(ENV_PREFIX + n.upper() for n in Settings.model_fields))
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)}; known settings: {known}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            name = ENV_PREFIX + field.upper() if field in Settings.model_fields else field
            lines.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid configuration: " + "; ".join(lines)) from None
