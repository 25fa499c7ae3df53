from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import Field, model_validator

from referkit.auth.principal import Mode, Scope
from referkit.kit.schemas import RequestModel, ResponseModel


class ApiKeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200, examples=["Backend (production)"])
    scope: Scope = Field(description="full, read_only (GET only) or analytics (stats reads only).")
    mode: Mode | None = Field(
        default=None, description="live or test; defaults to the calling key's mode."
    )
    rate_limit_per_minute: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Per-key limit; the workspace default if unset.",
    )

    @model_validator(mode="after")
    def _not_an_app_client(self) -> Self:
        if self.scope is Scope.app_client:
            raise ValueError("app client keys are made by POST /api/v1/apps/{app_id}/client-keys")
        return self


class ApiKey(ResponseModel):
    id: str = Field(examples=["key_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    name: str
    scope: Scope
    mode: Mode
    public_key: str = Field(description="Public half for Basic auth (`public_key:secret`).")
    secret_hint: str = Field(
        description="The secret's prefix and last characters, for recognition."
    )
    rate_limit_per_minute: int | None
    app_id: str | None = Field(default=None, description="The app of a client key (`pk_app_…`).")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyWithSecret(ApiKey):
    secret: str = Field(
        description="The secret, shown only in this response. Send as `Authorization: Bearer …`.",
        examples=["rk_live_3q9XbT2kQm8sWz7yVn4cRf6hJp1dLg5aEo0uKi2tYw8"],
    )


class ApiKeyUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    rate_limit_per_minute: int | None = Field(
        default=None, ge=1, le=10_000_000, description="null: use the workspace's limit."
    )

    @model_validator(mode="after")
    def _name_not_null(self) -> Self:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self
