from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from referkit.kit.schemas import RequestModel
from referkit.member.schemas import Member, MemberCreate
from referkit.referral.states import ReferralStatus
from referkit.reward.schemas import MilestoneProgress
from referkit.stats.schemas import Money, RewardTotals

DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 86_400
MIN_TTL_SECONDS = 60

ExpiresIn = Field(
    default=DEFAULT_TTL_SECONDS,
    ge=MIN_TTL_SECONDS,
    le=MAX_TTL_SECONDS,
    description="Lifetime of the token in seconds (1 hour by default, at most 24 hours).",
    examples=[3600],
)


class EmbedTokenCreate(RequestModel):
    expires_in_seconds: int = ExpiresIn


class ProgramEmbedTokenCreate(MemberCreate):
    """Create or fetch the member (as `POST /programs/{id}/members` does), then its token."""

    expires_in_seconds: int = ExpiresIn

    def member(self) -> MemberCreate:
        return MemberCreate.model_validate(
            self.model_dump(exclude={"expires_in_seconds"}, exclude_unset=True)
        )


class EmbedToken(BaseModel):
    token: str = Field(description="Short-lived and read-only; give it to the browser only.")
    url: str = Field(
        description="The dashboard page for this token (what `Referkit.mount` frames).",
        examples=["http://127.0.0.1:8000/embed/referrer?token=rke1.eyJ3Ijo..."],
    )
    expires_at: datetime
    member_id: str
    program_id: str


class ProgramEmbedToken(EmbedToken):
    member: Member
    member_created: bool = Field(description="The call created the member.")


class EmbedMember(BaseModel):
    id: str
    name: str | None
    referral_code: str
    referral_link: str


class EmbedProgram(BaseModel):
    id: str
    name: str


class EmbedStats(BaseModel):
    reach: int = Field(description="Unique visitors of the member's links.")
    clicks: int
    referrals: int
    qualified_referrals: int


class RecentReferral(BaseModel):
    id: str
    referee: str = Field(description="The friend's masked email.", examples=["s***@example.com"])
    status: ReferralStatus
    created_at: datetime


class ShareLinks(BaseModel):
    email: str
    sms: str
    whatsapp: str
    x: str
    linkedin: str
    facebook: str


class EmbedMe(BaseModel):
    """What the embedded dashboard shows, for teams that draw their own."""

    member: EmbedMember
    program: EmbedProgram
    stats: EmbedStats
    rewards_earned: Money | None = Field(description="In the member's main currency.")
    rewards: list[RewardTotals] = Field(description="Earned, pending and issued per unit.")
    milestones: list[MilestoneProgress]
    recent_referrals: list[RecentReferral]
    share: ShareLinks
    expires_at: datetime = Field(description="When the token stops working.")
