from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, Field, model_validator

from referkit.auth.principal import Mode
from referkit.kit.schemas import RequestModel


class Plan(BaseModel):
    name: str = Field(examples=["self-hosted"])
    rate_limit_per_minute: int = Field(description="The calling key's request limit per minute.")
    max_page_size: int
    max_batch_size: int


class Usage(BaseModel):
    programs: int
    members: int
    referrals: int
    api_keys: int


class Retention(RequestModel):
    raw_detail_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Days raw click and event detail (IP, user agent, referer, properties) is "
        "kept; then the worker purges it (counts and stats stay). Null keeps it.",
        examples=[90],
    )


class RetentionRead(BaseModel):
    raw_detail_days: int | None = Field(description="Null: raw detail is kept.")
    purged_before: datetime | None = Field(
        description="Raw detail created before this time has been purged (the last run)."
    )


class WorkspaceUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    rate_limit_per_minute: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="Limit for keys without their own (null: the server default).",
    )
    retention: Retention | None = Field(
        default=None, description="Data care: how long raw click and event detail is kept."
    )

    @model_validator(mode="after")
    def _name_not_null(self) -> Self:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


class TestDataDeleted(BaseModel):
    deleted: dict[str, int] = Field(
        examples=[{"programs": 2, "members": 10, "links": 10, "referrals": 31, "events": 80}],
        description="Test-mode rows deleted, by table.",
    )


class WorkspaceRead(BaseModel):
    id: str = Field(examples=["ws_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    name: str
    mode: Mode = Field(description="The calling key's mode; usage counts only this mode's data.")
    created_at: datetime
    rate_limit_per_minute: int | None = Field(
        description="The workspace's default per-key limit, if set (else the server's)."
    )
    plan: Plan
    usage: Usage
    retention: RetentionRead
