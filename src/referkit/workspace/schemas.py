from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from referkit.auth.principal import Mode


class Plan(BaseModel):
    name: str = Field(examples=["self-hosted"])
    rate_limit_per_minute: int = Field(description="Default per-key request limit.")
    max_page_size: int
    max_batch_size: int


class Usage(BaseModel):
    programs: int
    members: int
    referrals: int
    api_keys: int


class WorkspaceRead(BaseModel):
    id: str = Field(examples=["ws_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    name: str
    mode: Mode = Field(description="The calling key's mode; usage counts only this mode's data.")
    created_at: datetime
    plan: Plan
    usage: Usage
