from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from referkit.kit.codes import CUSTOM_CODE_PATTERN
from referkit.kit.schemas import RequestModel, ResponseModel, UtcDatetime
from referkit.kit.urls import check_http_url

HttpUrlText = Annotated[str, AfterValidator(check_http_url)]
UtmText = Annotated[str, Field(min_length=1, max_length=200)]


class Utm(RequestModel):
    source: UtmText | None = Field(default=None, examples=["newsletter"])
    medium: UtmText | None = Field(default=None, examples=["email"])
    campaign: UtmText | None = Field(default=None, examples=["spring"])
    term: UtmText | None = None
    content: UtmText | None = None


class UtmOut(BaseModel):
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None


class QrFormat(StrEnum):
    svg = "svg"
    png = "png"


class OpenGraph(RequestModel):
    title: str | None = Field(default=None, max_length=200, examples=["Spring sale"])
    description: str | None = Field(default=None, max_length=500)
    image_url: HttpUrlText | None = None


class AppLinkFields(RequestModel):
    """What a link of an app adds (API.md "Apps"): the deferred deep link, the ad taxonomy
    that app stats group by, and the card social previews show."""

    deep_link_path: str | None = Field(
        default=None, max_length=1000, examples=["/product/42"], description="Screen to open."
    )
    deep_link_params: dict[str, Annotated[str, Field(max_length=500)]] | None = Field(
        default=None, max_length=20, examples=[{"coupon": "SPRING"}]
    )
    network: str | None = Field(default=None, max_length=100, examples=["influencer"])
    campaign: str | None = Field(default=None, max_length=200, examples=["spring"])
    adset: str | None = Field(default=None, max_length=200)
    ad: str | None = Field(default=None, max_length=200)
    og: OpenGraph | None = Field(default=None, description="The social preview card.")


class LinkCreate(AppLinkFields):
    code: str | None = Field(
        default=None,
        pattern=CUSTOM_CODE_PATTERN,
        description="3 to 32 letters, digits, '-' or '_'; generated when omitted. Codes are "
        "case-insensitive and shared with member referral codes.",
        examples=["SPRING26"],
    )
    destination_url: HttpUrlText | None = Field(
        default=None,
        description="Where the link redirects; defaults to the program's landing URL.",
        examples=["https://example.com/pricing"],
    )
    program_id: str | None = Field(default=None, max_length=40)
    member_id: str | None = Field(
        default=None, max_length=40, description="Credit clicks to this referrer."
    )
    app_id: str | None = Field(default=None, max_length=40)
    ios_url: HttpUrlText | None = Field(default=None, examples=["https://apps.apple.com/app/id123"])
    android_url: HttpUrlText | None = Field(
        default=None, examples=["https://play.google.com/store/apps/details?id=com.example"]
    )
    utm: Utm = Field(default_factory=Utm)
    expires_at: UtcDatetime | None = None


class LinkUpdate(AppLinkFields):
    destination_url: HttpUrlText | None = None
    ios_url: HttpUrlText | None = None
    android_url: HttpUrlText | None = None
    utm: Utm | None = None
    expires_at: UtcDatetime | None = None


class Link(ResponseModel):
    id: str = Field(examples=["lnk_01jd9x4k6b8v2q3r5s7t9w1y3z"])
    code: str = Field(examples=["SPRING26"])
    short_url: str = Field(examples=["http://127.0.0.1:8000/r/SPRING26"])
    destination_url: str | None = Field(
        description="null: the link follows its program's landing URL."
    )
    app_id: str | None
    program_id: str | None
    member_id: str | None
    is_default: bool = Field(description="The member's default link (its referral code).")
    ios_url: str | None
    android_url: str | None
    utm: UtmOut
    expires_at: datetime | None
    deep_link_path: str | None = None
    deep_link_params: dict[str, str] | None = None
    network: str | None = None
    campaign: str | None = None
    adset: str | None = None
    ad: str | None = None
    og: dict[str, Any] | None = None
    clicks: int = Field(description="Human clicks (bots excluded).", examples=[42])
    unique_clicks: int = Field(description="Reach: one visitor per link per hour.", examples=[30])
    livemode: bool
    created_at: datetime
    updated_at: datetime
