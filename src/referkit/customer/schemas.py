from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from referkit.event.schemas import Event
from referkit.kit.schemas import ResponseModel
from referkit.referral.schemas import Referral
from referkit.reward.schemas import Reward


class Customer(ResponseModel):
    """Someone the workspace's product knows (created by events that name a customer)."""

    id: str = Field(examples=["cus_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    external_id: str | None = Field(examples=["user_456"])
    email: str | None = Field(examples=["friend@example.com"])
    livemode: bool
    created_at: datetime
    updated_at: datetime


class ExportedEvent(Event):
    """An event as stored, with the device detail the Event object does not show."""

    ip: str | None
    user_agent: str | None
    visitor_id: str | None


class ExportedReferral(Referral):
    """A referral in which the person is the referee, with its stored device detail."""

    ip: str | None
    user_agent: str | None


class ExportedClick(ResponseModel):
    """A click linked to the person (named by their events or referrals, or their cookie)."""

    id: str
    link_id: str | None
    program_id: str | None
    member_id: str | None
    code: str
    visitor_id: str | None
    platform: str
    is_bot: bool
    is_unique: bool
    user_agent: str | None
    referer: str | None
    destination_url: str | None
    created_at: datetime


class CustomerExport(BaseModel):
    """Everything Referkit stores about one person (GDPR access / portability)."""

    exported_at: datetime
    customer: Customer
    events: list[ExportedEvent]
    referrals: list[ExportedReferral] = Field(description="Referrals where they are the referee.")
    rewards: list[Reward] = Field(description="Rewards whose recipient is them (the referee).")
    clicks: list[ExportedClick]
