"""What a click is broken down by: country, device, OS, browser, referrer and campaign.

Decided once per click on the redirect path and stored on the click (``clicks.country`` …),
so the click's dimension rollups and, later, the signups and purchases attributed to it are
counted under the same groups. Raw IPs are never stored: the country is all that is kept.

- Country: ``iptocc``, the five Regional Internet Registries' delegated-allocation data compiled
  into the wheel (MIT / Apache-2.0; the registries publish the data for any use), so nothing is
  downloaded at run time. It names the country a block was *assigned* to, which agrees with
  commercial GeoIP databases for the great majority of addresses.
- Device, OS and browser: ``ua-parser`` with its bundled rules (``ua-parser-builtins``) and its
  native matcher (``ua-parser-rs``).

Both are behind LRU caches: a busy link sees the same few hundred user agents and addresses over
and over, so the parse is paid once per distinct value, not per click. ``warm_up`` loads the
rules at startup, never on a visitor's click.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_address
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

import iptocc

MAX_VALUE = 100
"""Longest group value stored (referrer hosts, utm values)."""

_MOBILE_OS = frozenset(
    {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS", "Symbian OS"}
)
_DESKTOP_OS = frozenset(
    {
        "Windows",
        "Mac OS X",
        "Linux",
        "Ubuntu",
        "Chrome OS",
        "Fedora",
        "Debian",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
    }
)
_TABLET_MARKS = ("ipad", "tablet", "kindle", "silk", "playbook", "nexus 7", "nexus 9", "nexus 10")


class Agent(NamedTuple):
    device: str
    """``desktop``, ``mobile``, ``tablet`` or ``""`` (unknown)."""
    os: str
    browser: str


class ClickDimensions(NamedTuple):
    country: str
    device: str
    os: str
    browser: str
    referrer: str
    utm_source: str
    utm_campaign: str


NO_DIMENSIONS: tuple[None, ...] = (None,) * len(ClickDimensions._fields)
"""Bot and orphan clicks: no breakdown counts them."""


@lru_cache(maxsize=8192)
def agent_of(user_agent: str) -> Agent:
    """Device kind, OS family and browser family of a user agent (``""`` when unknown)."""
    if not user_agent:
        return Agent("", "", "")
    # Imported here: commands that never parse a user agent (the CLI) skip its loaders.
    from ua_parser import parse as parse_user_agent

    result = parse_user_agent(user_agent)
    os = result.os.family if result.os and result.os.family != "Other" else ""
    browser = (
        result.user_agent.family
        if result.user_agent and result.user_agent.family != "Other"
        else ""
    )
    brand = result.device.brand or "" if result.device else ""
    family = result.device.family if result.device else ""
    lowered = user_agent.lower()
    if "tablet" in brand.lower() or any(mark in lowered for mark in _TABLET_MARKS):
        device = "tablet"
    elif os == "Android" and "mobile" not in lowered:
        device = "tablet"  # Android phones say "Mobile"; tablets do not
    elif os in _MOBILE_OS or "mobile" in lowered or family == "iPhone":
        device = "mobile"
    elif os in _DESKTOP_OS:
        device = "desktop"
    else:
        device = ""
    return Agent(device, os[:MAX_VALUE], browser[:MAX_VALUE])


@lru_cache(maxsize=8192)
def country_of(ip: str) -> str:
    """ISO 3166-1 alpha-2 code of the country ``ip`` was allocated to; ``""`` for private,
    reserved or malformed addresses."""
    try:
        address = ip_address(ip)
    except ValueError:
        return ""
    if not address.is_global:
        return ""
    code = iptocc.country_code(str(address))
    return code if isinstance(code, str) and len(code) == 2 else ""


@lru_cache(maxsize=4096)
def referrer_of(referer: str) -> str:
    """The referring site's host (``www.`` dropped), or ``""`` for direct visits."""
    if not referer:
        return ""
    try:
        host = urlsplit(referer).hostname or ""
    except ValueError:
        return ""
    if host.startswith("www."):
        host = host[4:]
    return host[:MAX_VALUE]


def utm_of(query_string: bytes, source: str, campaign: str) -> tuple[str, str]:
    """``utm_source`` and ``utm_campaign`` of the request when it names them, else the
    link's own (a shared link tagged ``?utm_source=newsletter`` counts as the newsletter)."""
    if b"utm_" in query_string:
        for name, value in parse_qsl(query_string.decode("latin-1")):
            if name == "utm_source" and value:
                source = value
            elif name == "utm_campaign" and value:
                campaign = value
    return source[:MAX_VALUE], campaign[:MAX_VALUE]


def dimensions_of(
    *,
    ip: str,
    user_agent: str,
    referer: str,
    query_string: bytes,
    utm_source: str,
    utm_campaign: str,
) -> ClickDimensions:
    agent = agent_of(user_agent)
    source, campaign = utm_of(query_string, utm_source, utm_campaign)
    return ClickDimensions(
        country_of(ip),
        agent.device,
        agent.os,
        agent.browser,
        referrer_of(referer),
        source,
        campaign,
    )


def warm_up() -> None:
    """Load the user-agent rules and the country table now (about a second, once)."""
    agent_of.__wrapped__("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")
    country_of.__wrapped__("8.8.8.8")
