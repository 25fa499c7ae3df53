"""Who is clicking: bots (crawlerdetect patterns, HEAD, empty user agents) and the platform."""

from __future__ import annotations

from functools import lru_cache

from crawlerdetect import CrawlerDetect  # type: ignore[import-untyped]

_detector = CrawlerDetect()


@lru_cache(maxsize=4096)
def is_bot(user_agent: str) -> bool:
    """Known crawlers and link-preview fetchers; a request without a user agent is no browser."""
    if not user_agent.strip():
        return True
    return bool(_detector.isCrawler(user_agent))


@lru_cache(maxsize=4096)
def platform_of(user_agent: str) -> str:
    ua = user_agent.lower()
    if "iphone" in ua or "ipad" in ua or "ipod" in ua:
        return "ios"
    if "android" in ua:
        return "android"
    return "web"


def warm_up() -> None:
    """Compile the crawler patterns now rather than on the first click (tens of ms)."""
    is_bot("Mozilla/5.0 (X11; Linux x86_64) referkit warm-up")
