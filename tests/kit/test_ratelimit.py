"""The in-process sliding window counters (no Redis): exact within a minute, the previous
minute weighted by how much of it the window still covers, windows forgotten once past."""

from __future__ import annotations

import pytest

from referkit.kit import ratelimit
from referkit.kit.ratelimit import LocalWindows, RateLimiter


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(1_800_000_000.0)  # the start of a minute
    monkeypatch.setattr(ratelimit.time, "time", clock)
    return clock


def test_a_minute_allows_exactly_the_limit(clock: Clock) -> None:
    windows = LocalWindows()
    decisions = [windows.hit("k", 3) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert all(d.limit == 3 and d.reset_after == 60 for d in decisions)
    assert windows.hit("other", 3).allowed  # per key


def test_the_previous_minute_counts_by_its_overlap(clock: Clock) -> None:
    windows = LocalWindows()
    for _ in range(10):
        assert windows.hit("k", 10).allowed
    clock.now += 60 + 30  # half-way through the next minute: 10 * 0.5 = 5 still count
    allowed = [windows.hit("k", 10).allowed for _ in range(7)]
    assert allowed == [True] * 5 + [False] * 2
    clock.now += 30 + 45  # 45 s into the minute after: 5 * 0.25 = 1 counts
    decision = windows.hit("k", 10)
    assert (decision.allowed, decision.remaining, decision.reset_after) == (True, 8, 15)
    clock.now += 120  # two minutes later nothing counts, and old windows are swept
    assert windows.hit("k", 10).remaining == 9
    assert list(windows._windows) == ["k"]


def test_a_cost_above_the_limit_is_refused(clock: Clock) -> None:
    assert not LocalWindows().hit("k", 5, cost=6).allowed


async def test_the_limiter_uses_them_without_redis(clock: Clock) -> None:
    limiter = RateLimiter(None)
    assert limiter.local is not None
    assert [(await limiter.hit("key", 2)).allowed for _ in range(3)] == [True, True, False]
    assert [await limiter.allow("redirect", "1.2.3.4", 1) for _ in range(2)] == [True, False]
    await limiter.close()
