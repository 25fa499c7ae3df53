"""The middleware's header and query helpers give what Starlette's ``MutableHeaders`` and
``urllib.parse.parse_qsl`` gave before they worked on raw ASGI pairs and bytes (the reference
implementations below are the code they replaced), for any headers and query strings."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import example, given
from hypothesis import strategies as st
from starlette.datastructures import MutableHeaders

from referkit.kit.ratelimit import Decision
from referkit.middleware import SECURITY_HEADERS, _repeated_parameter, with_security_headers
from referkit.protection import with_headers_set

NAMES = st.sampled_from(
    [
        b"content-type",
        b"content-length",
        b"content-security-policy",
        b"x-frame-options",
        b"x-content-type-options",
        b"referrer-policy",
        b"ratelimit-limit",
        b"x-ratelimit-reset",
        b"X-Frame-Options",
        b"set-cookie",
    ]
)
VALUES = st.sampled_from(
    [b"", b"DENY", b"nosniff", b"frame-ancestors 'none'", b"default-src 'self'", b"7", b"\xe9"]
)
HEADERS = st.lists(st.tuples(NAMES, VALUES), max_size=8)


def reference_security_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    message = {"type": "http.response.start", "headers": raw}
    headers = MutableHeaders(scope=message)
    framed = "frame-ancestors" in headers.get("content-security-policy", "")
    for name, value in SECURITY_HEADERS:
        if name not in headers and not (framed and name == "x-frame-options"):
            headers.append(name, value)
    return list(message["headers"])


def reference_headers_set(
    raw: list[tuple[bytes, bytes]], values: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    message = {"type": "http.response.start", "headers": raw}
    headers = MutableHeaders(scope=message)
    for name, value in values:
        headers[name.decode()] = value.decode()
    return list(message["headers"])


def reference_repeated(path: str, query: bytes) -> str | None:
    if not query or not path.startswith("/api/v1/"):
        return None
    seen: set[str] = set()
    for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in seen:
            return name
        seen.add(name)
    return None


@given(HEADERS)
def test_security_headers_as_mutable_headers_added_them(raw: list[tuple[bytes, bytes]]) -> None:
    assert with_security_headers(list(raw)) == reference_security_headers(list(raw))


def test_security_headers_of_a_page_that_may_be_framed() -> None:
    framed = [(b"content-security-policy", b"frame-ancestors https://a.example")]
    assert with_security_headers(framed) == [
        *framed,
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
    ]


@given(
    HEADERS,
    st.builds(
        Decision,
        allowed=st.booleans(),
        limit=st.integers(0, 10**6),
        remaining=st.integers(0, 10**6),
        reset_after=st.integers(0, 60),
    ),
)
def test_rate_limit_headers_as_mutable_headers_set_them(
    raw: list[tuple[bytes, bytes]], decision: Decision
) -> None:
    values = decision.headers()
    assert with_headers_set(list(raw), values) == reference_headers_set(list(raw), values)


@given(
    HEADERS,
    st.lists(
        st.tuples(NAMES.filter(bytes.islower), st.sampled_from([b"", b"1", b"60", b"DENY"])),
        max_size=6,
    ),
)
def test_any_headers_are_set_as_mutable_headers_set_them(
    raw: list[tuple[bytes, bytes]], values: list[tuple[bytes, bytes]]
) -> None:
    assert with_headers_set(list(raw), values) == reference_headers_set(list(raw), values)


QUERY = st.lists(
    st.tuples(
        st.sampled_from(["limit", "cursor", "member_id", "a+b", "a b", "a%20b", "%61", "a", ""]),
        st.sampled_from(["", "=", "=10", "=x%26y", "=a+b", "==", "=%00"]),
    ),
    max_size=5,
).map(lambda parts: "&".join(name + value for name, value in parts).encode())


@given(
    st.sampled_from(["/api/v1/referrals", "/api/v1", "/healthz"]), QUERY | st.binary(max_size=20)
)
@example("/api/v1/referrals", b"a+b=1&a b=2")
@example("/api/v1/referrals", b"a%20b=1&a b=2")
@example("/api/v1/referrals", b"a=1&&a=2")
@example("/api/v1/referrals", b"limit")
@example("/api/v1/referrals", b"&&")
def test_a_repeated_parameter_is_found_as_parse_qsl_finds_it(path: str, query: bytes) -> None:
    assert _repeated_parameter(path, query) == reference_repeated(path, query)
