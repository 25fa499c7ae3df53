"""The request-building core both clients share; neither client builds a request itself.

An operation function (``_operations``) returns a ``Call``: the HTTP request to make and how to
read its answer. ``Referkit`` and ``AsyncReferkit`` only send it, with the same retry policy
(``Retry``): connection errors, 408 (a body that arrived too late: nothing was stored), 429
(after ``Retry-After``) and 5xx are retried with
exponential backoff, and every POST carries one ``Idempotency-Key`` generated per call, so a
retry of a write is answered with the first result instead of repeating it.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from referkit_client.errors import APIStatusError, RateLimitError, error_for

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
USER_AGENT = "referkit-client-python/0.1.0"


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content: str | bytes | None = None  # a body that is not JSON (with its Content-Type header)

    def request(
        self, client: httpx.Client | httpx.AsyncClient, idempotency_key: str | None
    ) -> httpx.Request:
        headers = dict(self.headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        params = {k: _query(v) for k, v in self.params.items() if v is not None}
        return client.build_request(
            self.method,
            self.path,
            params=params,
            json=self.json,
            content=self.content,
            headers=headers,
        )

    def with_params(self, **params: Any) -> Call[T]:
        return replace(self, params={**self.params, **params})


def _query(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def path(template: str, **values: str) -> str:
    """A path with its ids escaped (an id can never change the route)."""
    return template.format(**{k: quote(v, safe="") for k, v in values.items()})


def body(value: BaseModel | Mapping[str, Any] | None) -> Any:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    return dict(value)


def parser(model: Any) -> Callable[[httpx.Response], Any]:
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    return lambda response: adapter.validate_python(response.json())


def no_content(response: httpx.Response) -> None:
    return None


def raw_bytes(response: httpx.Response) -> bytes:
    return response.content


def check(response: httpx.Response) -> None:
    """Raise the typed error of a non-2xx answer."""
    if response.is_success:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    raise error_for(response.status_code, problem, dict(response.headers))


@dataclass(frozen=True)
class Retry:
    """How often and how long to wait: attempt n waits ``base * 2**n`` (±25 %), at most
    ``cap`` seconds, or what the server's ``Retry-After`` asks for."""

    max_retries: int = 2
    base: float = 0.5
    cap: float = 8.0

    def idempotency_key(self, call: Call[Any]) -> str | None:
        return f"rkc_{uuid.uuid4().hex}" if call.method == "POST" else None

    def should_retry(self, attempt: int, error: Exception) -> bool:
        if attempt >= self.max_retries:
            return False
        if isinstance(error, httpx.TransportError):
            return True
        return isinstance(error, APIStatusError) and (
            error.status in (408, 429) or error.status >= 500
        )

    def delay(self, attempt: int, error: Exception) -> float:
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return min(error.retry_after, 60.0)
        wait: float = min(self.cap, self.base * 2.0**attempt)
        return wait * random.uniform(0.75, 1.25)
