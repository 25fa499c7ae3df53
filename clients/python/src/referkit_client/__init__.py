"""Referkit's Python client: ``Referkit`` (sync) and ``AsyncReferkit``.

from referkit_client import Referkit

with Referkit(api_key="rk_live_…", base_url="https://referkit.example.com") as rk:
    member = rk.create_member(program_id, {"email": "jane@example.com"})
    print(member.referral_link)
"""

from referkit_client._client import OPERATIONS, AsyncReferkit, Referkit
from referkit_client._core import Retry
from referkit_client.errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ClickNotAttributableError,
    ConflictError,
    CsrfRefusedError,
    EmbedTokenError,
    FraudBlockedError,
    IdempotencyKeyReusedError,
    InsufficientScopeError,
    InvalidApiKeyError,
    InvalidTransitionError,
    IpBlockedError,
    MemberDisabledError,
    NotFoundError,
    PermissionDeniedError,
    ProgramInactiveError,
    RateLimitError,
    ReadOnlyRoleError,
    ReferkitError,
    RequestBodyTimeoutError,
    SelfReferralError,
    ServerError,
    SignInFailedError,
    SignInRequiredError,
    SignInThrottledError,
    UnknownClickError,
    UnknownReferralCodeError,
    ValidationError,
    WebhookVerificationError,
)
from referkit_client.webhooks import verify_webhook

__all__ = [
    "OPERATIONS",
    "APIConnectionError",
    "APIStatusError",
    "AsyncReferkit",
    "AuthenticationError",
    "ClickNotAttributableError",
    "ConflictError",
    "CsrfRefusedError",
    "EmbedTokenError",
    "FraudBlockedError",
    "IdempotencyKeyReusedError",
    "InsufficientScopeError",
    "InvalidApiKeyError",
    "InvalidTransitionError",
    "IpBlockedError",
    "MemberDisabledError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProgramInactiveError",
    "RateLimitError",
    "ReadOnlyRoleError",
    "Referkit",
    "ReferkitError",
    "RequestBodyTimeoutError",
    "Retry",
    "SelfReferralError",
    "ServerError",
    "SignInFailedError",
    "SignInRequiredError",
    "SignInThrottledError",
    "UnknownClickError",
    "UnknownReferralCodeError",
    "ValidationError",
    "WebhookVerificationError",
    "verify_webhook",
]
