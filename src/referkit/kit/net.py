"""Who is the client, and did they use HTTPS — believing proxy headers only from trusted proxies.

``X-Forwarded-For`` is walked from the right: each hop that is a trusted proxy is skipped, and
the first untrusted address is the client. A client cannot spoof its address by sending the
header itself, because the hop that appended its real address is the one we trust.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def normalize_ip(value: str) -> str | None:
    """The canonical text of an IP address (IPv4-mapped IPv6 as IPv4), or None if it is not one.

    ``2001:DB8::1`` and ``2001:db8:0::1`` are one address, and so are ``::ffff:192.0.2.1`` and
    ``192.0.2.1``: comparisons of addresses go through here.
    """
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


@lru_cache(maxsize=64)
@lru_cache(maxsize=16)
def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` → networks; raises ValueError on a bad entry. Remembered:
    the trusted proxies are read on every request."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def client_ip(scope: Scope, trusted: tuple[Network, ...]) -> str:
    peer = scope.get("client")
    address = peer[0] if peer else "unknown"
    if not trusted or not _trusted(address, trusted):
        return str(address)
    forwarded = _header(scope, b"x-forwarded-for")
    if not forwarded:
        return str(address)
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not _trusted(hop, trusted):
            return hop
        address = hop
    return str(address)


def request_scheme(scope: Scope, trusted: tuple[Network, ...]) -> str:
    scheme = str(scope.get("scheme", "http"))
    peer = scope.get("client")
    if trusted and peer and _trusted(peer[0], trusted):
        proto = _header(scope, b"x-forwarded-proto")
        if proto:
            return proto.split(",")[0].strip().lower()
    return scheme
