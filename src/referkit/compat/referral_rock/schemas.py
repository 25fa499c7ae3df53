"""Referral Rock request bodies (NewMember, NewReferral, MemberQuery, …), as documented at
api.referralrock.com/Help. Fields Referkit does not store (address, phone, payout info) are
accepted and ignored, so a client that sends them keeps working."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class PrimaryMemberInfo(_Body):
    memberId: str | None = Field(default=None, max_length=40)
    referralCode: str | None = Field(default=None, max_length=40)


class SecondaryMemberInfo(_Body):
    externalIdentifier: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)


class TertiaryInfo(BaseModel):
    """Referral Rock spells these ``programId`` in member queries and ``ProgramId`` in referral
    queries; both spellings are read."""

    model_config = ConfigDict(extra="allow")

    programId: str | None = Field(default=None, max_length=200)
    programName: str | None = Field(default=None, max_length=200)
    programTitle: str | None = Field(default=None, max_length=200)

    @property
    def program_ref(self) -> str | None:
        extra = self.model_extra or {}
        for value in (
            self.programId,
            extra.get("ProgramId"),
            self.programName,
            extra.get("ProgramName"),
            self.programTitle,
            extra.get("ProgramTitle"),
        ):
            if isinstance(value, str) and value:
                return value
        return None


class MemberQuery(_Body):
    primaryInfo: PrimaryMemberInfo | None = None
    secondaryInfo: SecondaryMemberInfo | None = None
    tertiaryInfo: TertiaryInfo | None = None


class PrimaryReferralInfo(_Body):
    referralId: str | None = Field(default=None, max_length=40)


class SecondaryReferralInfo(_Body):
    externalIdentifier: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phoneNumber: str | None = Field(default=None, max_length=50)


class ReferralQuery(_Body):
    primaryInfo: PrimaryReferralInfo | None = None
    secondaryInfo: SecondaryReferralInfo | None = None
    tertiaryInfo: TertiaryInfo | None = None


class NewMember(_Body):
    programId: str = Field(max_length=200)
    firstName: str = Field(min_length=1, max_length=100)
    lastName: str | None = Field(default=None, max_length=100)
    email: str = Field(min_length=3, max_length=320)
    referralCode: str | None = Field(default=None, max_length=32)
    externalIdentifier: str | None = Field(default=None, max_length=200)
    disabledFlag: bool | None = None


class MemberChanges(_Body):
    firstName: str | None = Field(default=None, max_length=100)
    lastName: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=320)
    referralCode: str | None = Field(default=None, max_length=32)
    externalIdentifier: str | None = Field(default=None, max_length=200)
    disabledFlag: bool | None = None


class MemberUpdate(_Body):
    query: MemberQuery
    memberInfo: MemberChanges | None = None
    member: MemberChanges | None = None  # accepted spelling used by some client libraries

    @property
    def changes(self) -> MemberChanges:
        return self.memberInfo or self.member or MemberChanges()


class MemberRemove(_Body):
    query: MemberQuery


Status = Literal["pending", "qualified", "approved", "denied"]


class NewReferral(_Body):
    referralCode: str = Field(min_length=1, max_length=40)
    firstName: str | None = Field(default=None, max_length=100)
    lastName: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=320)
    externalIdentifier: str | None = Field(default=None, max_length=200)
    amount: float | None = Field(default=None, ge=0)
    note: str | None = Field(default=None, max_length=2000)
    status: Status | None = None


class ReferralChanges(_Body):
    status: Status | None = None
    note: str | None = Field(default=None, max_length=2000)
    publicNote: str | None = Field(default=None, max_length=2000)
    amount: float | None = Field(default=None, ge=0)


class ReferralUpdate(_Body):
    """Either Referral Rock's ReferralStatus shape (``referralId`` + ``status``) or a query
    object with the changes beside it."""

    referralId: str | None = Field(default=None, max_length=40)
    query: ReferralQuery | None = None
    referral: ReferralChanges | None = None
    status: Status | None = None
    note: str | None = Field(default=None, max_length=2000)
    publicNote: str | None = Field(default=None, max_length=2000)

    @property
    def changes(self) -> ReferralChanges:
        if self.referral is not None:
            return self.referral
        return ReferralChanges(status=self.status, note=self.note, publicNote=self.publicNote)

    @property
    def lookup(self) -> ReferralQuery:
        if self.query is not None:
            return self.query
        return ReferralQuery(primaryInfo=PrimaryReferralInfo(referralId=self.referralId))


class ReferralRemove(_Body):
    query: ReferralQuery | None = None
    referralId: str | None = Field(default=None, max_length=40)

    @property
    def lookup(self) -> ReferralQuery:
        if self.query is not None:
            return self.query
        return ReferralQuery(primaryInfo=PrimaryReferralInfo(referralId=self.referralId))


class NewReward(_Body):
    amount: float = Field(gt=0, le=10**10)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    description: str | None = Field(default=None, max_length=500)
    payoutId: str | None = None


class NewRewardInfo(_Body):
    memberQuery: MemberQuery | None = None
    referralQuery: ReferralQuery | None = None
    newReward: NewReward


class RewardAction(_Body):
    """rewards/issue, rewards/update and rewards/remove name the reward by ``rewardId``."""

    rewardId: str = Field(max_length=40)
    note: str | None = Field(default=None, max_length=2000)
    overrideHold: bool = Field(
        default=False, description="Referkit addition: issue a reward still on hold."
    )
    status: Literal["Issued", "issued", "Cancelled", "cancelled"] | None = None


class HookSubscription(_Body):
    target_url: str = Field(min_length=8, max_length=2048)
    event: str = Field(min_length=1, max_length=50)


class HookRemoval(_Body):
    web_hook_id: str = Field(max_length=40)


class MemberAccessRequest(_Body):
    """MemberAccessUrlsQuery: exactly one of the four names the member."""

    memberId: str | None = Field(default=None, max_length=40)
    referralCode: str | None = Field(default=None, max_length=50)
    emailAddress: str | None = Field(default=None, max_length=100)
    externalId: str | None = Field(default=None, max_length=100)
    expireInMinutes: int = Field(default=20, ge=5, le=43_200)
