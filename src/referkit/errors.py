"""Typed errors and their RFC 9457 rendering.

Services raise ``ReferkitError`` subclasses; they know nothing about HTTP beyond a status code.
One set of handlers (installed by ``install_error_handlers``) renders every failure — ours,
FastAPI's validation errors, Starlette's 404/405 and anything unexpected — as
``application/problem+json`` with a stable machine ``code``. Database text never reaches a body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from referkit.kit.json import dumps

logger = logging.getLogger("referkit.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"

# Every machine code the API can answer, with a human explanation; served at /problems/{code}.
PROBLEM_CODES: dict[str, str] = {
    "authentication_required": "No credentials were sent. Use Bearer or Basic authentication.",
    "invalid_api_key": "The API key is unknown, revoked, or its secret was regenerated.",
    "insufficient_scope": "The API key's scope does not allow this operation.",
    "embed_token_invalid": "The embed token is malformed or was not signed by this installation.",
    "embed_token_expired": (
        "The embed token has expired; the host page asks its backend for a new one."
    ),
    "embed_token_revoked": "The embed token's member was disabled or deleted.",
    "not_found": "No such resource in this workspace (or no such route).",
    "method_not_allowed": "The route exists but does not accept this HTTP method.",
    "validation_error": "The request is malformed; `errors` lists each bad field.",
    "conflict": "The request conflicts with a stored resource; `existing_id` names it if known.",
    "invalid_transition": "The status change is not allowed from the current status.",
    "self_referral": "The referee is the referrer (same normalized email or external id).",
    "fraud_blocked": (
        "The program's fraud rules (mode `block`) refused the referral; `signals` lists each "
        "check that fired, with its evidence (e.g. `same_visitor`, `same_ip`)."
    ),
    "unknown_referral_code": "No active member has this referral code.",
    "unknown_click": "No click with this id is stored in this workspace.",
    "click_not_attributable": (
        "The click is outside the program's attribution window, from a bot, on an expired "
        "code, or not on a referrer's link."
    ),
    "member_disabled": "The referrer is disabled and cannot receive referrals.",
    "program_inactive": "The program is paused or archived.",
    "payload_too_large": "The request body is larger than allowed.",
    "rate_limited": "Too many requests for this key; retry after the time in `Retry-After`.",
    "ip_blocked": "Too many failed authentications from this IP; it is blocked for a while.",
    "idempotency_key_reused": "The Idempotency-Key was already used with a different request.",
    "idempotency_in_progress": "A request with this Idempotency-Key is still running.",
    "https_required": "The API only answers over HTTPS here.",
    "request_timeout": "The request ran too long and was cancelled; nothing was stored.",
    "request_body_timeout": "The request body did not arrive in time; nothing was stored.",
    "service_unavailable": "A dependency (usually the database) is not ready.",
    "internal_error": "An unexpected error; it has been logged.",
    "sign_in_failed": "The dashboard email or password is wrong (or the account is disabled).",
    "sign_in_throttled": "Too many failed dashboard sign-ins for this account or IP; wait.",
    "sign_in_required": "The dashboard session is missing, expired or revoked; sign in again.",
    "csrf_refused": "A dashboard form or request came without its valid CSRF token.",
    "read_only_role": "The dashboard user is a viewer in this workspace and cannot change it.",
}


class ReferkitError(Exception):
    """Base of every error a service may raise on purpose."""

    status_code = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra


class NotFound(ReferkitError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class Conflict(ReferkitError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class InvalidTransition(ReferkitError):
    status_code = 409
    code = "invalid_transition"
    title = "Invalid status transition"


class Unprocessable(ReferkitError):
    """A well-formed request that breaks a business rule; subclasses set a specific code."""

    status_code = 422
    code = "validation_error"
    title = "Unprocessable request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        if code is not None:
            self.code = code


class AuthenticationRequired(ReferkitError):
    status_code = 401
    code = "authentication_required"
    title = "Authentication required"


class InvalidApiKey(ReferkitError):
    status_code = 401
    code = "invalid_api_key"
    title = "Invalid API key"


class InsufficientScope(ReferkitError):
    status_code = 403
    code = "insufficient_scope"
    title = "Insufficient scope"


class RateLimited(ReferkitError):
    status_code = 429
    code = "rate_limited"
    title = "Too many requests"


class IpBlocked(ReferkitError):
    status_code = 429
    code = "ip_blocked"
    title = "Blocked after repeated failed authentication"


class ServiceUnavailable(ReferkitError):
    status_code = 503
    code = "service_unavailable"
    title = "Service unavailable"


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail}
    body["code"] = code
    body.update(extra)
    return Response(
        dumps(body), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


def _field_path(loc: tuple[Any, ...], kind: str) -> str:
    if kind == "json_invalid":
        return "body"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) if parts else str(loc[0]) if loc else ""


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        kind = str(error.get("type", "value_error"))
        message = str(error.get("msg", "invalid value"))
        if kind == "json_invalid":
            message = f"the body is not valid JSON ({error.get('ctx', {}).get('error', message)})"
        out.append(
            {
                "field": _field_path(loc, kind),
                "in": str(loc[0]) if loc else "body",
                "message": message,
                "type": kind,
            }
        )
    return out


async def _referkit_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReferkitError)
    return error_response(exc)


def error_response(exc: ReferkitError) -> Response:
    """The problem answer of a service's refusal."""
    headers = dict(exc.headers)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer, Basic realm="referkit"'
    return problem_response(
        exc.status_code, exc.code, exc.title, exc.detail, headers=headers, **exc.extra
    )


async def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    summary = "; ".join(f"{e['field'] or e['in']}: {e['message']}" for e in errors[:5])
    return problem_response(
        422, "validation_error", "Invalid request", summary or "invalid request", errors=errors
    )


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("authentication_required", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeError | RecursionError):
        # FastAPI answers a JSON body that is not UTF-8, or nested past the parser's recursion
        # limit, with a bare 400; to clients it is the same mistake as malformed JSON, which is
        # a 422 validation error.
        why = (
            "it is not UTF-8 text"
            if isinstance(exc.__cause__, UnicodeError)
            else "it nests too deeply"
        )
        message = f"the body is not valid JSON ({why})"
        return problem_response(
            422,
            "validation_error",
            "Invalid request",
            f"body: {message}",
            errors=[{"field": "body", "in": "body", "message": message, "type": "json_invalid"}],
        )
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route matches {request.method} {request.url.path}."
        path = request.url.path
        if path.endswith("/") and path != "/" and _routed(request, path.rstrip("/")):
            detail += f" Without the trailing slash: {path.rstrip('/')}."
    headers = exc.headers
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return problem_response(exc.status_code, code, title, detail, headers=headers)


_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _routed(request: Request, path: str) -> bool:
    """Whether some route answers ``path`` (with any method)."""
    scope = {**request.scope, "path": path, "raw_path": path.encode()}
    return any(route.matches(scope)[0] is not Match.NONE for route in request.app.router.routes)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path answers. Starlette's 405 names only the methods
    of the first route matching the path, and ``GET`` and ``POST`` of one path are two routes;
    each method is tried against the whole routing table instead (nested routers included)."""
    return [
        method
        for method in _METHOD_ORDER
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return internal_error_response()


def internal_error_response() -> Response:
    """The 500 problem (the error itself is logged by whoever caught it)."""
    return problem_response(
        500, "internal_error", "Internal error", "An unexpected error occurred; it was logged."
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ReferkitError, _referkit_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
