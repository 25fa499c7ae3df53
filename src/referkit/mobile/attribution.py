"""Install attribution: which click (if any) an app install is credited to, and why.

Evidence is tried in a fixed order and the first acceptable click wins:

1. ``click_id`` — the app read it from a universal link / app link or a deferred parameter;
2. ``install_referrer`` — Android's Play Install Referrer string, carrying ``rk_click=<id>``
   (``/r/{code}`` put it in the Play Store URL);
3. probabilistic — the app's human clicks from the same IP (hashed with each day's salt of the
   window) within ``probabilistic_window_hours``, scored on OS, OS version and language, the
   best-scoring unclaimed click first; its confidence and matched fields are kept;
4. organic.

A click is claimed by one install at most (a conditional update in the install's transaction),
so two installs racing for one click cannot both have it. Every candidate considered is kept
with the reason it was refused, and the decision carries a sentence explaining it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.event.schemas import DeviceInput
from referkit.kit.ids import looks_like_id
from referkit.link.app_route import ip_hash, language_of
from referkit.mobile.repository import AppClickRepository
from referkit.models import App, AppClick

_IP, _OS, _VERSION, _LANGUAGE = 0.5, 0.2, 0.15, 0.1
_MAX_CONFIDENCE = 0.95
_DECAY = 0.3
"""A click at the far end of the window loses this share of its score."""


@dataclass
class Evidence:
    """What an install (or open) tells about its device, normalised."""

    at: datetime
    os: str | None
    os_version: str | None
    language: str | None
    ip: str | None
    click_id: str | None
    install_referrer: str | None

    @classmethod
    def of(
        cls,
        device: DeviceInput | None,
        *,
        at: datetime,
        ip: str | None,
        click_id: str | None,
        install_referrer: str | None,
        user_agent_os: str | None,
    ) -> Evidence:
        os = device.os.value if device is not None else user_agent_os
        return cls(
            at=at,
            os=os if os in ("ios", "android") else None,
            os_version=device.os_version if device is not None else None,
            language=language_of(device.language) if device and device.language else None,
            ip=(device.ip if device is not None and device.ip else None) or ip,
            click_id=click_id,
            install_referrer=install_referrer,
        )


@dataclass
class InstallDecision:
    method: str = "organic"
    click: AppClick | None = None
    confidence: float | None = None
    matched: list[str] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    explanation: str = "Nothing identified a click: the install is organic."

    def as_dict(self) -> dict[str, Any]:
        click = self.click
        return {
            "method": self.method,
            "click_id": click.id if click else None,
            "link_id": click.link_id if click else None,
            "network": click.network if click else None,
            "campaign": click.campaign if click else None,
            "adset": click.adset if click else None,
            "ad": click.ad if click else None,
            "ad_click_id": click.ad_click_id if click else None,
            "confidence": self.confidence,
            "matched": self.matched,
            "candidates": self.candidates,
            "explanation": self.explanation,
        }


def referrer_click_id(install_referrer: str) -> str | None:
    """``rk_click`` from a Play Install Referrer string (``rk_click=clk_…&…``, maybe escaped)."""
    for text in (install_referrer, unquote(install_referrer)):
        value = dict(parse_qsl(text)).get("rk_click")
        if value:
            return value
    return None


def ip_hashes(key: bytes, ip: str, since: datetime, until: datetime) -> list[str]:
    """The IP hashed with the salt of every UTC day from ``since`` to ``until``."""
    hashes, day = [], since.date()
    while day <= until.date():
        hashes.append(ip_hash(key, day, ip))
        day += timedelta(days=1)
    return hashes


def _score(click: AppClick, evidence: Evidence, window: timedelta) -> tuple[float, list[str]]:
    """A click from the install's IP: how likely it is the same device (0 when it cannot be)."""
    matched, score = ["ip"], _IP
    if evidence.os and click.os:
        if evidence.os != click.os:
            return 0.0, []
        matched.append("os")
        score += _OS
    if evidence.os_version and click.os_version:
        if evidence.os_version.split(".")[:2] == click.os_version.split(".")[:2]:
            matched.append("os_version")
            score += _VERSION
        else:
            score -= _VERSION  # an update between click and install is possible, but rare
    language = evidence.language and click.language
    if language and evidence.language.lower()[:2] == click.language.lower()[:2]:  # type: ignore[union-attr]
        matched.append("language")
        score += _LANGUAGE
    age = (evidence.at - click.created_at) / window if window else 1.0
    score *= 1 - _DECAY * min(1.0, max(0.0, age))
    return round(min(score, _MAX_CONFIDENCE), 3), matched


Prefetched = dict[str, dict[str, list[AppClick]]]
"""App id → IP hash → the app's human clicks from that hash, read once for a batch."""


class InstallAttribution:
    def __init__(
        self, session: AsyncSession, signing_key: bytes, prefetched: Prefetched | None = None
    ) -> None:
        self.clicks = AppClickRepository(session)
        self.key = signing_key
        self.prefetched = prefetched or {}

    async def _from_ip(
        self, app: App, hashes: list[str], since: datetime, until: datetime
    ) -> list[AppClick]:
        known = self.prefetched.get(app.id)
        if known is None:
            return await self.clicks.by_ip(app.id, hashes, since, until)
        found = [c for h in hashes for c in known.get(h, ()) if since <= c.created_at <= until]
        return sorted(found, key=lambda click: click.created_at, reverse=True)[:50]

    async def decide(
        self,
        principal: Principal,
        app: App,
        evidence: Evidence,
        install_id: str,
        *,
        click_window: timedelta,
        probabilistic_window: timedelta,
    ) -> InstallDecision:
        decision = InstallDecision()
        named = [("click_id", evidence.click_id)]
        if evidence.install_referrer:
            named.append(("install_referrer", referrer_click_id(evidence.install_referrer)))
        for method, click_id in named:
            if click_id is None:
                if method == "install_referrer":
                    decision.candidates.append(
                        {"source": method, "accepted": False, "reason": "no rk_click in it"}
                    )
                continue
            click = await self._named(principal, app, decision, method, click_id, evidence)
            if click is None:
                continue
            if click.created_at < evidence.at - click_window:
                self._refuse(decision, method, click, "the click is older than the click window")
            elif await self.clicks.claim(click.workspace_id, click.id, install_id):
                return self._won(decision, method, click, 1.0, None, click_window)
            else:
                self._refuse(decision, method, click, f"install {click.install_id} claimed it")
        if probabilistic_window and evidence.ip:
            if await self._probabilistic(app, decision, evidence, install_id, probabilistic_window):
                return decision
        elif not probabilistic_window:
            decision.candidates.append(
                {"source": "probabilistic", "accepted": False, "reason": "turned off (0 h)"}
            )
        if decision.candidates:
            decision.explanation = (
                "Organic: no candidate qualified ("
                + "; ".join(f"{c['source']}: {c['reason']}" for c in decision.candidates)
                + ")."
            )
        return decision

    async def _named(
        self,
        principal: Principal,
        app: App,
        decision: InstallDecision,
        method: str,
        click_id: str,
        evidence: Evidence,
    ) -> AppClick | None:
        click = None
        if looks_like_id(click_id, "clk"):
            click = await self.clicks.get(principal.workspace_id, principal.livemode, click_id)
        reason = None
        if click is None:
            reason = f"no click {click_id} on a link of this app"
        elif click.app_id != app.id:
            reason = "the click is on another app's link"
        elif click.is_bot:
            reason = "the click came from a bot"
        elif click.created_at > evidence.at:
            reason = "the click happened after the install"
        if reason is not None:
            decision.candidates.append(
                {"source": method, "click_id": click_id, "accepted": False, "reason": reason}
            )
            return None
        return click

    @staticmethod
    def _refuse(decision: InstallDecision, method: str, click: AppClick, reason: str) -> None:
        decision.candidates.append(
            {"source": method, "click_id": click.id, "accepted": False, "reason": reason}
        )

    async def _probabilistic(
        self,
        app: App,
        decision: InstallDecision,
        evidence: Evidence,
        install_id: str,
        window: timedelta,
    ) -> bool:
        assert evidence.ip is not None
        since = evidence.at - window
        hashes = ip_hashes(self.key, evidence.ip, since, evidence.at)
        scored = []
        for click in await self._from_ip(app, hashes, since, evidence.at):
            if click.install_id is not None:
                self._refuse(decision, "probabilistic", click, "already claimed")
                continue
            score, matched = _score(click, evidence, window)
            if score <= 0:
                self._refuse(decision, "probabilistic", click, "the OS differs")
                continue
            scored.append((score, click.created_at, click, matched))
        scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
        for score, _, click, matched in scored:
            if await self.clicks.claim(click.workspace_id, click.id, install_id):
                self._won(decision, "probabilistic", click, score, matched, window)
                return True
            self._refuse(decision, "probabilistic", click, "claimed by another install")
        if not scored and not any(c["source"] == "probabilistic" for c in decision.candidates):
            hours = int(window.total_seconds() // 3600)
            decision.candidates.append(
                {
                    "source": "probabilistic",
                    "accepted": False,
                    "reason": f"no click from this device's IP in the last {hours} h",
                }
            )
        return False

    @staticmethod
    def _won(
        decision: InstallDecision,
        method: str,
        click: AppClick,
        confidence: float,
        matched: list[str] | None,
        window: timedelta,
    ) -> InstallDecision:
        decision.method, decision.click = method, click
        decision.confidence, decision.matched = confidence, matched
        decision.candidates.append({"source": method, "click_id": click.id, "accepted": True})
        how = {
            "click_id": "The app sent the click id",
            "install_referrer": "The Play Install Referrer carried the click id",
            "probabilistic": f"A click from the same IP matched on {', '.join(matched or [])} "
            f"(confidence {confidence})",
        }[method]
        hours = int(window.total_seconds() // 3600)
        span = f"{hours // 24}-day" if hours % 24 == 0 else f"{hours}-hour"
        decision.explanation = (
            f"{how}: click {click.id} on link {click.link_id} "
            f"({click.created_at:%Y-%m-%d %H:%M} UTC, network {click.network or 'none'}) "
            f"is within the {span} window and unclaimed, so the install is credited to it."
        )
        return decision
