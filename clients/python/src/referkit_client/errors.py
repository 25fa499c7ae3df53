"""Errors: every refusal of the API is a ``ReferkitError`` carrying its RFC 9457 problem.

ReferkitError
├── APIConnectionError          no answer (after retries)
└── APIStatusError              an answer with a problem body
    ├── AuthenticationError     401 (authentication_required, invalid_api_key, embed tokens,
    │                                dashboard sign-in)
    ├── PermissionDeniedError   403 (insufficient_scope, e.g. a client key outside its app;
    │                                csrf_refused, read_only_role)
    ├── NotFoundError           404
    ├── ConflictError           409 (conflict, idempotency_key_reused, …)
    │   └── InvalidTransitionError   invalid_transition
    ├── ValidationError         422 (validation_error and business refusals such as
    │                                self_referral, fraud_blocked, program_inactive)
    ├── RateLimitError          429 (rate_limited, ip_blocked, sign_in_throttled) —
    │                                ``retry_after`` seconds
    ├── RequestBodyTimeoutError 408 (the body did not arrive in time; nothing stored: retried)
    └── ServerError             5xx
"""

from __future__ import annotations

from typing import Any


class ReferkitError(Exception):
    """Base of every error this client raises."""


class APIConnectionError(ReferkitError):
    """The request got no HTTP answer (connection refused, reset, timed out)."""


class WebhookVerificationError(ReferkitError):
    """A webhook's signature or timestamp did not verify."""


class APIStatusError(ReferkitError):
    def __init__(self, status: int, problem: dict[str, Any], headers: dict[str, str]) -> None:
        self.status = status
        self.problem = problem
        self.headers = headers
        self.code: str = str(problem.get("code") or "http_error")
        self.detail: str = str(problem.get("detail") or problem.get("title") or status)
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        super().__init__(f"{status} {self.code}: {self.detail}")


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    @property
    def existing_id(self) -> str | None:
        value = self.problem.get("existing_id")
        return value if isinstance(value, str) else None


class InvalidTransitionError(ConflictError):
    pass


class ValidationError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class ServerError(APIStatusError):
    pass


# One class per problem code the server documents (/problems/{code}), under its status class.


class InvalidApiKeyError(AuthenticationError):
    """``invalid_api_key``."""


class EmbedTokenError(AuthenticationError):
    """``embed_token_invalid``."""


class InsufficientScopeError(PermissionDeniedError):
    """``insufficient_scope``."""


class SelfReferralError(ValidationError):
    """``self_referral``."""


class FraudBlockedError(ValidationError):
    """``fraud_blocked``."""


class UnknownReferralCodeError(ValidationError):
    """``unknown_referral_code``."""


class UnknownClickError(ValidationError):
    """``unknown_click``."""


class ClickNotAttributableError(ValidationError):
    """``click_not_attributable``."""


class MemberDisabledError(ValidationError):
    """``member_disabled``."""


class ProgramInactiveError(ValidationError):
    """``program_inactive``."""


class IdempotencyKeyReusedError(ConflictError):
    """``idempotency_key_reused``."""


class IpBlockedError(RateLimitError):
    """``ip_blocked``."""


class RequestBodyTimeoutError(APIStatusError):
    """``request_body_timeout``: nothing was stored, so the request is retried."""


# Dashboard session codes: the API itself never answers them to a key, but the problem
# catalogue is shared, so a client reading the dashboard's JSON gets them typed too.


class SignInFailedError(AuthenticationError):
    """``sign_in_failed``."""


class SignInRequiredError(AuthenticationError):
    """``sign_in_required``."""


class SignInThrottledError(RateLimitError):
    """``sign_in_throttled``."""


class CsrfRefusedError(PermissionDeniedError):
    """``csrf_refused``."""


class ReadOnlyRoleError(PermissionDeniedError):
    """``read_only_role``."""


_BY_CODE: dict[str, type[APIStatusError]] = {
    "authentication_required": AuthenticationError,
    "invalid_api_key": InvalidApiKeyError,
    "embed_token_invalid": EmbedTokenError,
    "embed_token_expired": EmbedTokenError,
    "embed_token_revoked": EmbedTokenError,
    "insufficient_scope": InsufficientScopeError,
    "not_found": NotFoundError,
    "method_not_allowed": APIStatusError,
    "validation_error": ValidationError,
    "conflict": ConflictError,
    "invalid_transition": InvalidTransitionError,
    "self_referral": SelfReferralError,
    "fraud_blocked": FraudBlockedError,
    "unknown_referral_code": UnknownReferralCodeError,
    "unknown_click": UnknownClickError,
    "click_not_attributable": ClickNotAttributableError,
    "member_disabled": MemberDisabledError,
    "program_inactive": ProgramInactiveError,
    "payload_too_large": APIStatusError,
    "rate_limited": RateLimitError,
    "ip_blocked": IpBlockedError,
    "idempotency_key_reused": IdempotencyKeyReusedError,
    "idempotency_in_progress": ConflictError,
    "https_required": APIStatusError,
    "request_timeout": ServerError,
    "request_body_timeout": RequestBodyTimeoutError,
    "service_unavailable": ServerError,
    "internal_error": ServerError,
    "sign_in_failed": SignInFailedError,
    "sign_in_throttled": SignInThrottledError,
    "sign_in_required": SignInRequiredError,
    "csrf_refused": CsrfRefusedError,
    "read_only_role": ReadOnlyRoleError,
}
"""Every problem ``code`` → its error class (the SDK's tests check none is missing)."""

_BY_STATUS: dict[int, type[APIStatusError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestBodyTimeoutError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
}


def error_for(status: int, problem: dict[str, Any], headers: dict[str, str]) -> APIStatusError:
    """The typed error of a problem answer: by its ``code`` first, then by status."""
    cls = _BY_CODE.get(str(problem.get("code")))
    if cls is None:
        cls = ServerError if status >= 500 else _BY_STATUS.get(status, APIStatusError)
    return cls(status, problem, headers)
