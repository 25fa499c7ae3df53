"""What ``/r/{code}`` adds for a link that belongs to an app.

Computed only when the cached ``Target`` carries an ``AppRoute``, so a plain web link's redirect
does none of it. The store destinations themselves are built once, when the link is cached
(``store_destinations``): iOS goes to the link's ``ios_url`` or the App Store (when the app is
installed, iOS opens it from the universal link before the request ever reaches us), Android to
the Play Store with ``referrer=rk_click%3D<click id>`` so the app reads the click back through
the Play Install Referrer API, others to the web URL.

On each click the request's ad click id (``fbclid``, ``gclid``, ``gbraid``, ``wbraid``,
``ttclid``) and ``utm_*`` parameters are kept, and decide the network: an ad click id first,
then ``utm_source``, then the link's own network.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

AD_CLICK_IDS = {
    "fbclid": "meta",
    "gclid": "google_ads",
    "gbraid": "google_ads",
    "wbraid": "google_ads",
    "ttclid": "tiktok",
}
"""Ad click id parameter → the network it proves (in order of precedence)."""
_UTM = ("source", "medium", "campaign", "term", "content")
_IOS_VERSION = re.compile(r"(?:iPhone|CPU) OS (\d+)[_.](\d+)")
_ANDROID_VERSION = re.compile(r"Android (\d+(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class AppRoute:
    """The app-side facts of a cached link."""

    app_id: str
    network: str | None
    campaign: str | None
    adset: str | None
    ad: str | None
    og: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AppRoute:
        return cls(
            app_id=row["app_id"],
            network=row["network"],
            campaign=row["campaign"],
            adset=row["adset"],
            ad=row["ad"],
            og=row["og"] or None,
        )


def store_urls(platforms: dict[str, Any]) -> dict[str, str | None]:
    """Each platform's store (or web) URL from an app's ``platforms`` settings."""
    ios = platforms.get("ios") or {}
    android = platforms.get("android") or {}
    web = platforms.get("web") or {}
    ios_url = ios.get("store_url") or (
        f"https://apps.apple.com/app/id{ios['app_store_id']}" if ios.get("app_store_id") else None
    )
    android_url = android.get("store_url") or (
        f"https://play.google.com/store/apps/details?id={android['package']}"
        if android.get("package")
        else None
    )
    return {"ios": ios_url, "android": android_url, "web": web.get("url")}


def os_version_of(user_agent: str) -> str | None:
    match = _IOS_VERSION.search(user_agent)
    if match:
        return f"{match.group(1)}.{match.group(2)}"
    match = _ANDROID_VERSION.search(user_agent)
    return match.group(1) if match else None


@lru_cache(maxsize=8)
def _ip_salt(key: bytes, day: date) -> bytes:
    return hashlib.blake2b(b"app-ip-salt:" + day.isoformat().encode(), key=key[:64]).digest()


def ip_hash(key: bytes, day: date, ip: str) -> str:
    """The IP hashed with the day's salt: a device's clicks and its install hash alike on the
    same UTC day; attribution hashes the install's IP with each day of its window."""
    return hashlib.blake2b(ip.encode(), key=_ip_salt(key, day), digest_size=16).hexdigest()


def language_of(accept_language: str) -> str | None:
    first = accept_language.split(",", 1)[0].split(";", 1)[0].strip()
    return first[:20] or None


def app_click_row(
    route: AppRoute,
    *,
    click: dict[str, Any],
    query_string: bytes,
    accept_language: str,
    key: bytes,
    ip: str,
    now: datetime,
) -> dict[str, Any]:
    """The ``app_clicks`` row of a click on an app link."""
    params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=False))
    ad_param = next((name for name in AD_CLICK_IDS if params.get(name)), None)
    utm = {name: params[f"utm_{name}"][:200] for name in _UTM if params.get(f"utm_{name}")}
    if ad_param is not None:
        network: str | None = AD_CLICK_IDS[ad_param]
    elif utm.get("source"):
        network = utm["source"].lower()[:100]
    else:
        network = route.network
    user_agent = click["user_agent"] or ""
    platform = click["platform"]
    return {
        "id": click["id"],
        "workspace_id": click["workspace_id"],
        "livemode": click["livemode"],
        "app_id": route.app_id,
        "link_id": click["link_id"],
        "platform": platform,
        "is_bot": click["is_bot"],
        "network": network,
        "campaign": utm.get("campaign") or route.campaign,
        "adset": route.adset,
        "ad": route.ad,
        "ad_click_param": ad_param,
        "ad_click_id": params[ad_param][:512] if ad_param else None,
        "utm": utm,
        "ip_hash": ip_hash(key, now.date(), ip),
        "os": platform if platform != "web" else None,
        "os_version": os_version_of(user_agent),
        "language": language_of(accept_language),
        "install_id": None,
        "created_at": now,
    }


def preview_page(route: AppRoute, url: str) -> bytes:
    """The Open Graph page a social preview fetcher gets instead of the redirect."""
    og = route.og or {}
    tags = [
        ("og:type", "website"),
        ("og:url", url),
        ("og:title", og.get("title")),
        ("og:description", og.get("description")),
        ("og:image", og.get("image_url")),
        ("twitter:card", "summary_large_image" if og.get("image_url") else "summary"),
    ]
    meta = "".join(
        f'<meta property="{name}" content="{html.escape(str(value))}">'
        for name, value in tags
        if value
    )
    title = html.escape(str(og.get("title") or "Open in the app"))
    description = html.escape(str(og.get("description") or ""))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"{meta}</head><body><h1>{title}</h1><p>{description}</p></body></html>"
    ).encode()
