"""Outgoing HTTP with an SSRF guard: webhook targets cannot reach the inside of our network.

Invariant: every TCP connection the client opens goes to an address that was resolved *for that
connection* and, unless private targets are allowed, checked against private, loopback,
link-local, multicast, reserved and unspecified ranges (and the IPv4 address a 6to4, Teredo or
NAT64 address carries). The check sits in the connection
backend (not in a pre-flight lookup), so a DNS answer that changes between a check and the
connect (DNS rebinding) cannot slip through: we connect to the address we checked. Only http and
https URLs are accepted, and redirects are never followed. ``private_target`` is the same rule
applied early, when a URL is stored, so a user hears about a refused target at once.

    BlockedAddress(httpx.ConnectError)   the resolved address is not allowed
    UnsupportedUrl(ValueError)           not an http(s) URL with a host
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(httpx.ConnectError):
    """The target resolves to an address webhooks may not reach."""


class UnsupportedUrl(ValueError):
    """Only absolute http:// and https:// URLs with a host can be targets."""


def check_url(url: str) -> str:
    """Return the URL's host, or raise UnsupportedUrl."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsupportedUrl("must be an absolute http:// or https:// URL with a host")
    return parts.hostname


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries and that a relay would reach: 6to4, Teredo (its
    server and its un-obfuscated client) and the well-known NAT64 prefix."""
    found: list[ipaddress.IPv4Address] = []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif not all(is_public(inner) for inner in _embedded_ipv4(address)):
            return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _ipv4_number(part: str) -> int | None:
    """One dotted part as ``inet_aton`` and browsers read it: 0x… hex, 0… octal, else decimal."""
    if part[:2] in ("0x", "0X"):
        digits, base, allowed = part[2:], 16, "0123456789abcdefABCDEF"
    elif len(part) > 1 and part.startswith("0"):
        digits, base, allowed = part[1:], 8, "01234567"
    else:
        digits, base, allowed = part, 10, "0123456789"
    if not part or not all(c in allowed for c in digits):
        return None
    return int(digits, base) if digits else 0


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a numeric host stands for in any form resolvers and browsers accept:
    ``2130706433``, ``0x7f000001``, ``017700000001``, ``127.1``, ``0177.0.0.1``,
    ``127.000.000.001``, ``0`` (one to four parts, the last one filling the remaining bytes),
    with or without a trailing dot. None when the host is not numeric."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_ipv4_number(part) for part in parts]
    if any(n is None for n in numbers):
        return None
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(head))
    return ipaddress.IPv4Address(value)


def normalize_host(host: str) -> str:
    """Lower case, compatibility forms folded (full-width digits and letters, as IDNA maps
    them), trailing dots dropped: full-width ``LOCALHOST.`` is ``localhost``."""
    return unicodedata.normalize("NFKC", host).lower().rstrip(".")


def host_address(host: str) -> IPAddress | None:
    """The address a host names literally (IPv6, or IPv4 in any numeric form), else None.
    Raises ValueError for an IPv6 literal that does not parse."""
    host = normalize_host(host)
    if ":" in host:
        return ipaddress.ip_address(unquote(host.strip("[]")))
    return parse_ipv4(host)


Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
# Short: on SQLite the request that stores a URL holds the write lock while it waits.
CREATE_DNS_TIMEOUT_SECONDS = 2.0


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver answers for ``host`` (raises OSError)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    return list(dict.fromkeys(found))


async def private_target(url: str, resolver: Resolver = system_resolver) -> str | None:
    """Why ``url`` may not be a webhook target, or None if it may (the create/update check).

    Literal hosts are read the way resolvers and browsers read them; names are resolved and
    refused if *any* answer is not public. A name that does not resolve now is accepted: every
    delivery resolves and checks again, and connects only to the address it checked.
    """
    hosts = [urlsplit(url).hostname or ""]
    with contextlib.suppress(httpx.InvalidURL):
        hosts.append(httpx.URL(url).host)  # the parser deliveries use: both readings must pass
    for host in dict.fromkeys(normalize_host(h) for h in hosts):
        reason = await _private_host(host, url, resolver)
        if reason:
            return reason
    if len(hosts) == 1:
        return "not a URL webhooks can be delivered to"
    return None


async def _private_host(host: str, url: str, resolver: Resolver) -> str | None:
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a loopback name"
    try:
        address = host_address(host)
    except ValueError:
        return f"{host} is not a valid IPv6 address"
    if address is not None:
        return None if is_public(address) else f"{address} is not a public address"
    try:
        port = urlsplit(url).port or (443 if url.lower().startswith("https") else 80)
    except ValueError:
        return "the port is not a number from 0 to 65535"
    try:
        async with asyncio.timeout(CREATE_DNS_TIMEOUT_SECONDS):
            answers = await resolver(host, port)
    except (OSError, TimeoutError, UnicodeError, ValueError):
        return None
    refused = sorted({str(a) for a in answers if not is_public(a)})
    return f"{host} resolves to {', '.join(refused)}" if refused else None


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, once per connection, and connects only to an address it
    checked; TLS (SNI, certificate) and the Host header still use the name."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._resolver = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def _addresses(self, host: str, port: int) -> list[IPAddress]:
        try:  # a numeric host in any spelling is read as it was when the URL was stored
            literal = host_address(host)
        except ValueError as exc:
            raise httpcore.ConnectError(f"not an address: {host}") from exc
        if literal is not None:
            return [literal]
        try:
            return await self._resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._addresses(host, port)
        allowed = addresses if self._allow_private else [a for a in addresses if is_public(a)]
        if not allowed:
            raise BlockedAddress(
                f"{host} resolves to a private or reserved address "
                f"({', '.join(sorted({str(a) for a in addresses}))})"
            )
        failure: httpcore.ConnectError | None = None
        for address in allowed:  # in the resolver's order, as a browser falls back
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connections go through the guard above."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        super().__init__(trust_env=False)
        ssl_context = httpx.create_ssl_context(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(
                allow_private=allow_private, resolver=resolver, inner=network
            ),
        )


def outbound_client(
    *,
    allow_private: bool,
    timeout: float,
    resolver: Resolver = system_resolver,
    network: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """The client for webhook deliveries. Every connection resolves once and connects to the
    address it resolved (and, unless private targets are allowed, checked); ``resolver`` and
    ``network`` are for tests and embedders."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private, resolver=resolver, network=network),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": "Referkit-Webhooks/1"},
    )
