"""Dashboard refusals, as typed errors with stable codes (listed in ``errors.PROBLEM_CODES``)."""

from __future__ import annotations

from referkit.errors import ReferkitError


class SignInFailed(ReferkitError):
    status_code = 401
    code = "sign_in_failed"
    title = "Sign-in failed"


class SignInThrottled(ReferkitError):
    status_code = 429
    code = "sign_in_throttled"
    title = "Too many sign-in attempts"


class SignInRequired(ReferkitError):
    status_code = 401
    code = "sign_in_required"
    title = "Sign-in required"


class CsrfRefused(ReferkitError):
    status_code = 403
    code = "csrf_refused"
    title = "Form expired or forged"


class ReadOnlyRole(ReferkitError):
    status_code = 403
    code = "read_only_role"
    title = "Viewers cannot change anything"
