"""Each network's request, built from an event's facts: one builder for the dry run and the send.

Invariant: ``build`` is a pure function of (network, settings, credentials, facts, base URL).
``POST …/{network}/test`` and the worker both call it, so the dry run shows the bytes the worker
later sends. Secrets (tokens) appear only in the built request; ``Request.summary`` replaces each
credential value with ``[redacted]`` and is what the log and the dry run answer.

Where each shape comes from (see docs/integrations.md for links):
- Meta Conversions API for app events: ``POST /{version}/{dataset_id}/events`` with
  ``data[]`` of ``event_name, event_time, event_id, action_source: "app", user_data,
  custom_data, app_data``; ``em``/``external_id`` normalised then SHA-256 hashed; up to 1,000
  events a request; events older than 7 days are refused.
- Google Ads ``customers/{id}:uploadClickConversions``: ``conversions[]`` with one of ``gclid``,
  ``gbraid``, ``wbraid``, ``conversionAction``, ``conversionDateTime``
  (``yyyy-mm-dd hh:mm:ss+|-hh:mm``), ``conversionValue``, ``currencyCode``, ``orderId``, and
  ``partialFailure: true``; up to 2,000 conversions a request; 90 days after the click at most.
- TikTok Events API 2.0 ``/open_api/v1.3/event/track/`` with the ``Access-Token`` header,
  ``event_source: "app"``, ``event_source_id`` (the TikTok app id) and ``data[]``.
- Postback: a URL template whose ``{macros}`` are replaced by URL-encoded values; one GET per
  event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from referkit.kit.json import dumps
from referkit.kit.money import to_major

NETWORKS = ("meta", "google_ads", "tiktok", "postback")
META_API_VERSION = "v21.0"
GOOGLE_ADS_API_VERSION = "v18"
TIKTOK_API_VERSION = "v1.3"
REDACTED = "[redacted]"

BATCH_LIMIT = {"meta": 1000, "google_ads": 2000, "tiktok": 1000, "postback": 1}
MAX_AGE: dict[str, timedelta | None] = {
    "meta": timedelta(days=7),
    "google_ads": timedelta(days=90),
    "tiktok": timedelta(days=7),
    "postback": None,
}
CREDENTIAL_FIELDS = {
    "meta": ("access_token",),
    "google_ads": ("developer_token", "access_token"),
    "tiktok": ("access_token",),
    "postback": (),
}
CONFIG_FIELDS = {
    "meta": ("dataset_id",),
    "google_ads": ("customer_id",),
    "tiktok": ("tiktok_app_id",),
    "postback": ("url",),
}
GOOGLE_CLICK_PARAMS = ("gclid", "gbraid", "wbraid")
POSTBACK_MACROS = (
    "click_id",
    "event_name",
    "event_id",
    "revenue",
    "amount",
    "currency",
    "install_id",
    "network",
    "campaign",
    "app_id",
    "link_id",
    "timestamp",
    "ip",
    "os",
)


def normalised_hash(value: str | None, *, kind: str) -> str | None:
    """SHA-256 hex of the normalised value (trimmed; e-mails lower-cased), as networks ask."""
    if value is None:
        return None
    text = value.strip()
    if kind == "email":
        text = text.lower()
    return hashlib.sha256(text.encode()).hexdigest() if text else None


def major_units(amount: int | None, currency: str | None) -> float | None:
    if amount is None or currency is None:
        return None
    return to_major(amount, currency)


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def hide(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, REDACTED).replace(quote(secret, safe=""), REDACTED)
        return text

    def summary(self) -> dict[str, Any]:
        """The request as the log and the dry run show it: every credential value hidden."""
        return {
            "method": self.method,
            "url": self.hide(self.url),
            "headers": {k: self.hide(v) for k, v in self.headers.items()},
            "body": self.hide(self.body.decode()) if self.body is not None else None,
        }


def too_old(network: str, facts: dict[str, Any], now: datetime) -> bool:
    limit = MAX_AGE[network]
    return limit is not None and now - datetime.fromisoformat(facts["occurred_at"]) > limit


def unsendable(network: str, facts: dict[str, Any]) -> str | None:
    """Why this network cannot take the event at all (no retry would help), or None."""
    if network == "google_ads" and facts.get("ad_click_param") not in GOOGLE_CLICK_PARAMS:
        return "no gclid, gbraid or wbraid on the attributed click"
    return None


def build(
    network: str,
    config: dict[str, Any],
    credentials: dict[str, str],
    batch: list[dict[str, Any]],
    base_url: str,
) -> Request:
    """The request carrying ``batch`` (facts with their mapped ``event_name``)."""
    builder = {"meta": _meta, "google_ads": _google_ads, "tiktok": _tiktok, "postback": _postback}
    request = builder[network](config, credentials, batch, base_url.rstrip("/"))
    return Request(
        request.method,
        request.url,
        request.headers,
        request.body,
        tuple(v for v in credentials.values() if v),
    )


def _epoch(facts: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(facts["occurred_at"]).timestamp())


def _meta_event(facts: dict[str, Any]) -> dict[str, Any]:
    hashed = facts.get("hashed") or {}
    user: dict[str, Any] = {}
    for key in ("em", "external_id"):
        if hashed.get(key):
            user[key] = [hashed[key]]
    if facts.get("ip"):
        user["client_ip_address"] = facts["ip"]
    if facts.get("user_agent"):
        user["client_user_agent"] = facts["user_agent"]
    if facts.get("advertising_id"):
        user["madid"] = facts["advertising_id"]
    if facts.get("ad_click_param") == "fbclid":
        user["fbc"] = f"fb.1.{_epoch(facts) * 1000}.{facts['ad_click_id']}"
    event: dict[str, Any] = {
        "event_name": facts["event_name"],
        "event_time": _epoch(facts),
        "event_id": facts["event_id"],
        "action_source": "app",
        "user_data": user,
        "app_data": {
            "advertiser_tracking_enabled": 1 if facts.get("tracking_allowed", True) else 0,
            "application_tracking_enabled": 1,
            "extinfo": _extinfo(facts),
        },
    }
    value = major_units(facts.get("amount"), facts.get("currency"))
    if value is not None:
        event["custom_data"] = {"value": value, "currency": facts["currency"]}
    return event


def _extinfo(facts: dict[str, Any]) -> list[str]:
    """Meta's 16-field device array; what we do not know is sent empty, as Meta allows."""
    version = "i2" if facts.get("platform") == "ios" else "a2"
    known = [version, facts.get("package") or "", "", "", facts.get("os_version") or ""]
    return known + [""] * (16 - len(known))


def _meta(
    config: dict[str, Any], credentials: dict[str, str], batch: list[dict[str, Any]], base: str
) -> Request:
    query = urlencode({"access_token": credentials.get("access_token", "")})
    url = f"{base}/{META_API_VERSION}/{quote(str(config.get('dataset_id', '')), safe='')}/events"
    body = dumps({"data": [_meta_event(f) for f in batch]})
    return Request("POST", f"{url}?{query}", {"content-type": "application/json"}, body)


def google_datetime(occurred_at: str) -> str:
    """``yyyy-mm-dd hh:mm:ss+hh:mm``, the format uploadClickConversions requires."""
    when = datetime.fromisoformat(occurred_at)
    text = when.strftime("%Y-%m-%d %H:%M:%S%z")
    return f"{text[:-2]}:{text[-2:]}"


def _google_action(config: dict[str, Any], action: str) -> str:
    if action.startswith("customers/"):
        return action
    customer = str(config.get("customer_id", "")).replace("-", "")
    return f"customers/{customer}/conversionActions/{action}"


def _google_ads(
    config: dict[str, Any], credentials: dict[str, str], batch: list[dict[str, Any]], base: str
) -> Request:
    customer = str(config.get("customer_id", "")).replace("-", "")
    conversions = []
    for facts in batch:
        conversion: dict[str, Any] = {
            facts["ad_click_param"]: facts["ad_click_id"],
            "conversionAction": _google_action(config, facts["event_name"]),
            "conversionDateTime": google_datetime(facts["occurred_at"]),
            "orderId": facts["event_id"],
        }
        value = major_units(facts.get("amount"), facts.get("currency"))
        if value is not None:
            conversion["conversionValue"] = value
            conversion["currencyCode"] = facts["currency"]
        conversions.append(conversion)
    headers = {
        "authorization": f"Bearer {credentials.get('access_token', '')}",
        "developer-token": credentials.get("developer_token", ""),
        "content-type": "application/json",
    }
    if config.get("login_customer_id"):
        headers["login-customer-id"] = str(config["login_customer_id"]).replace("-", "")
    url = f"{base}/{GOOGLE_ADS_API_VERSION}/customers/{customer}:uploadClickConversions"
    return Request(
        "POST", url, headers, dumps({"conversions": conversions, "partialFailure": True})
    )


def _tiktok_event(facts: dict[str, Any], app_id: str) -> dict[str, Any]:
    hashed = facts.get("hashed") or {}
    user: dict[str, Any] = {}
    if facts.get("ad_click_param") == "ttclid":
        user["ttclid"] = facts["ad_click_id"]
    if hashed.get("em"):
        user["email"] = hashed["em"]
    if hashed.get("external_id"):
        user["external_id"] = hashed["external_id"]
    if facts.get("advertising_id"):
        user["idfa" if facts.get("platform") == "ios" else "gaid"] = facts["advertising_id"]
    if facts.get("ip"):
        user["ip"] = facts["ip"]
    if facts.get("user_agent"):
        user["user_agent"] = facts["user_agent"]
    event: dict[str, Any] = {
        "event": facts["event_name"],
        "event_time": _epoch(facts),
        "event_id": facts["event_id"],
        "user": user,
        "app": {"app_id": app_id},
    }
    value = major_units(facts.get("amount"), facts.get("currency"))
    if value is not None:
        event["properties"] = {"value": value, "currency": facts["currency"]}
    return event


def _tiktok(
    config: dict[str, Any], credentials: dict[str, str], batch: list[dict[str, Any]], base: str
) -> Request:
    app_id = str(config.get("tiktok_app_id", ""))
    body = {
        "event_source": "app",
        "event_source_id": app_id,
        "data": [_tiktok_event(f, app_id) for f in batch],
    }
    headers = {
        "access-token": credentials.get("access_token", ""),
        "content-type": "application/json",
    }
    return Request(
        "POST", f"{base}/open_api/{TIKTOK_API_VERSION}/event/track/", headers, dumps(body)
    )


def postback_values(facts: dict[str, Any]) -> dict[str, str]:
    revenue = major_units(facts.get("amount"), facts.get("currency"))
    values: dict[str, Any] = {
        "click_id": facts.get("ad_click_id") or facts.get("click_id"),
        "event_name": facts.get("event_name"),
        "event_id": facts.get("event_id"),
        "revenue": revenue,
        "amount": facts.get("amount"),
        "currency": facts.get("currency"),
        "install_id": facts.get("install_id"),
        "network": facts.get("network"),
        "campaign": facts.get("campaign"),
        "app_id": facts.get("app_id"),
        "link_id": facts.get("link_id"),
        "timestamp": _epoch(facts),
        "ip": facts.get("ip"),
        "os": facts.get("platform"),
    }
    return {k: "" if v is None else str(v) for k, v in values.items()}


def expand(template: str, facts: dict[str, Any]) -> str:
    """The template with every known ``{macro}`` replaced by its URL-encoded value."""
    url = template
    for name, value in postback_values(facts).items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    return url


def _postback(
    config: dict[str, Any], credentials: dict[str, str], batch: list[dict[str, Any]], base: str
) -> Request:
    (facts,) = batch
    return Request("GET", expand(str(config.get("url", "")), facts), {}, None)
