"""All ORM models, in one package so domains never import each other's tables."""

from referkit.models.api_key import ApiKey
from referkit.models.app import App
from referkit.models.app_click import AppClick
from referkit.models.app_device import AppDevice
from referkit.models.app_rollup import AppRollup
from referkit.models.click import Click
from referkit.models.code import Code
from referkit.models.coupon import Coupon
from referkit.models.customer import Customer
from referkit.models.dashboard import (
    DashboardInvite,
    DashboardMembership,
    DashboardSession,
    DashboardUser,
)
from referkit.models.dimension_rollup import DimensionRollup
from referkit.models.erasure import Erasure
from referkit.models.event import Event
from referkit.models.idempotency_key import IdempotencyKey
from referkit.models.integration import Integration, IntegrationAttempt, IntegrationForward
from referkit.models.ledger_entry import LedgerEntry
from referkit.models.link import Link
from referkit.models.member import Member
from referkit.models.program import Program
from referkit.models.reach_mark import ReachMark
from referkit.models.referral import Referral
from referkit.models.reward import Reward
from referkit.models.reward_rollup import RewardRollup
from referkit.models.rollup import Rollup
from referkit.models.skan import SkanPostback, SkanSchema
from referkit.models.webhook_attempt import WebhookAttempt
from referkit.models.webhook_endpoint import WebhookEndpoint
from referkit.models.webhook_message import WebhookMessage
from referkit.models.workspace import Workspace

__all__ = [
    "ApiKey",
    "App",
    "AppClick",
    "AppDevice",
    "AppRollup",
    "Click",
    "Code",
    "Coupon",
    "Customer",
    "DashboardInvite",
    "DashboardMembership",
    "DashboardSession",
    "DashboardUser",
    "DimensionRollup",
    "Erasure",
    "Event",
    "IdempotencyKey",
    "Integration",
    "IntegrationAttempt",
    "IntegrationForward",
    "LedgerEntry",
    "Link",
    "Member",
    "Program",
    "ReachMark",
    "Referral",
    "Reward",
    "RewardRollup",
    "Rollup",
    "SkanPostback",
    "SkanSchema",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookMessage",
    "Workspace",
]
