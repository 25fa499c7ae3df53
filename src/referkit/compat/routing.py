"""A route class that answers errors in a compatibility API's own shape.

Clients written against Referral Rock or Referral Factory parse their product's error bodies,
not RFC 9457. Each compat router uses ``shaped_route(render)``: any ``ReferkitError`` (auth,
scope, rate limit, not found, transitions) or request validation error raised while handling
the request is answered by ``render`` with the same status code and headers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from referkit.db.session import TransactionRoute
from referkit.errors import ReferkitError, Unprocessable, error_response, validation_errors

M = TypeVar("M", bound=BaseModel)
Renderer = Callable[[int, str, str, list[dict[str, Any]]], dict[str, Any]]
"""(status, code, detail, field errors) → the body to answer."""


_UNION_TAG = re.compile(r"^(list\[)?[A-Z]\w*\]?$")


def _untagged(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Drop pydantic's union member tags (``NewMember``, ``list[NewMember]``) from error
    locations: bodies that take one object or a list of them name fields as clients do."""
    out = []
    for error in errors:
        loc = tuple(p for p in error.get("loc", ()) if not _UNION_TAG.match(str(p)))
        out.append({**error, "loc": loc})
    return out


def shaped_route(render: Renderer) -> type[TransactionRoute]:
    class ShapedRoute(TransactionRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def shaped(request: Request) -> Response:
                try:
                    return await handler(request)
                except ReferkitError as exc:
                    headers = dict(error_response(exc).headers)
                    headers.pop("content-length", None)
                    headers.pop("content-type", None)
                    errors = list(exc.extra.get("errors") or [])
                    body = render(exc.status_code, exc.code, exc.detail, errors)
                    return JSONResponse(body, status_code=exc.status_code, headers=headers)
                except RequestValidationError as exc:
                    errors = validation_errors(_untagged(exc.errors()))
                    detail = "; ".join(f"{e['field'] or e['in']}: {e['message']}" for e in errors)
                    body = render(422, "validation_error", detail or "invalid request", errors)
                    return JSONResponse(body, status_code=422)

            return shaped

    return ShapedRoute


def domain(model: type[M], fields: dict[str, Any], names: dict[str, str]) -> M:
    """Build a domain request from translated fields; its validation errors name the
    compat field (``names``: domain field → the client's field)."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        errors = validation_errors(exc.errors())
        for error in errors:
            head, _, rest = error["field"].partition(".")
            error["field"] = names.get(head, head) + (f".{rest}" if rest else "")
            error["in"] = "body"
        detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
        raise Unprocessable(detail or "invalid request", errors=errors) from None
