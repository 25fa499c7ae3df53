"""Outgoing HTTP with an SSRF guard: webhook targets cannot reach the inside of our network.

Invariant: unless private targets are allowed, every TCP connection the client opens goes to an
address that was resolved *for that connection* and checked against private, loopback,
link-local, multicast, reserved and unspecified ranges. The check sits in the connection
backend (not in a pre-flight lookup), so a DNS answer that changes between a check and the
connect (DNS rebinding) cannot slip through: we connect to the address we checked. Only http and
https URLs are accepted, and redirects are never followed.

    BlockedAddress(httpx.ConnectError)   the resolved address is not allowed
    UnsupportedUrl(ValueError)           not an http(s) URL with a host
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

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


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def obviously_private(url: str) -> bool:
    """A cheap check for create time: the host is a literal private address or localhost."""
    host = check_url(url).lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = literal_address(host)
    return address is not None and not is_public(address)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself and connects only to a checked address."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        allowed = [a for a in addresses if is_public(a)]
        if not allowed:
            raise BlockedAddress(
                f"{host} resolves to a private or reserved address "
                f"({', '.join(sorted({str(a) for a in addresses}))})"
            )
        return await self._inner.connect_tcp(
            str(allowed[0]),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

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

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        ssl_context = httpx.create_ssl_context(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(),
        )


def outbound_client(*, allow_private: bool, timeout: float) -> httpx.AsyncClient:
    """The client for webhook deliveries: guarded unless private targets are allowed."""
    transport: httpx.AsyncBaseTransport = (
        httpx.AsyncHTTPTransport(trust_env=False) if allow_private else GuardedTransport()
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": "Referkit-Webhooks/1"},
    )
