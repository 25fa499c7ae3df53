"""Referral Rock's web hooks on Referkit's outbox.

``POST /api/hooks`` with ``{target_url, event}`` (api.referralrock.com/Help/Api/POST-api-hooks)
creates an ordinary webhook endpoint (``source = referral_rock``) subscribed to the Referkit
event types behind the Referral Rock event name. Its messages go through the same outbox,
signing, retries and delivery log as every webhook; only the body differs: per Referral Rock's
web hook page, the POST body is the element itself, as a GET of it would answer.
"""

from __future__ import annotations

from typing import Any

from referkit.compat.referral_rock import views
from referkit.member.schemas import Member
from referkit.program.schemas import Program
from referkit.referral.schemas import Referral
from referkit.reward.schemas import Reward
from referkit.webhook import formats

SOURCE = "referral_rock"

# Referral Rock event name → the Referkit event types that carry it.
EVENTS: dict[str, tuple[str, ...]] = {
    "ProgramAdd": ("program.created",),
    "ProgramUpdate": ("program.updated",),
    "ProgramDelete": ("program.deleted",),
    "MemberAdd": ("member.created",),
    "MemberUpdate": ("member.updated",),
    "MemberDelete": ("member.deleted",),
    "ReferralAdd": ("referral.created",),
    "ReferralUpdate": ("referral.updated",),
    "ReferralStatusChange": ("referral.status_changed",),
    "ReferralDelete": ("referral.deleted",),
    "RewardAdd": ("reward.created",),
    "RewardUpdate": ("reward.issued", "reward.cancelled", "reward.reversed"),
    "RewardIssue": ("reward.issued",),
    "RewardDelete": ("reward.cancelled",),
}


def event_types(name: str) -> tuple[str, ...] | None:
    """The Referkit event types of a Referral Rock event name (case-insensitive)."""
    for known, types in EVENTS.items():
        if known.lower() == name.strip().lower():
            return types
    return None


def body(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The Referral Rock element for a message's ``data`` (no database: a delivery must not
    depend on rows that may be gone, e.g. after ``referral.deleted``)."""
    noun = event_type.split(".", 1)[0]
    if noun == "member":
        return views.member_view(Member.model_validate(data), None)
    if noun == "referral":
        return views.referral_view(Referral.model_validate(data), None)
    if noun == "reward":
        return views.reward_view(Reward.model_validate(data), None)
    if noun == "program" and "slug" in data:
        return views.program_view(Program.model_validate(data))
    return data


formats.register(SOURCE, body)
