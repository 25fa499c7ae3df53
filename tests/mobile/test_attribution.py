"""Properties of the probabilistic score and of the install referrer parse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from referkit.mobile.attribution import Evidence, _score, referrer_click_id
from referkit.models import AppClick

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
OS = st.sampled_from(["ios", "android", None])
VERSION = st.sampled_from(["17.4", "17.5", "14", None])
LANGUAGE = st.sampled_from(["en-US", "fr-FR", None])


def _click(age: timedelta, os: str | None, version: str | None, language: str | None) -> AppClick:
    return AppClick(id="clk_x", created_at=NOW - age, os=os, os_version=version, language=language)


def _evidence(os: str | None, version: str | None, language: str | None) -> Evidence:
    return Evidence(NOW, os, version, language, "198.51.100.1", None, None)


@given(
    hours=st.integers(1, 168),
    first=st.floats(0, 1),
    second=st.floats(0, 1),
    click_os=OS,
    device_os=OS,
    click_version=VERSION,
    device_version=VERSION,
    language=LANGUAGE,
)
def test_scores_are_bounded_and_fall_with_age(
    hours: int,
    first: float,
    second: float,
    click_os: str | None,
    device_os: str | None,
    click_version: str | None,
    device_version: str | None,
    language: str | None,
) -> None:
    window = timedelta(hours=hours)
    evidence = _evidence(device_os, device_version, language)
    young, old = sorted((first, second))
    score_young, matched = _score(
        _click(window * young, click_os, click_version, language), evidence, window
    )
    score_old, _ = _score(_click(window * old, click_os, click_version, language), evidence, window)
    assert 0 <= score_old <= score_young <= 0.95
    if click_os and device_os and click_os != device_os:
        assert score_young == 0
    else:
        assert score_young > 0
        assert matched[0] == "ip"


@given(st.text(alphabet="abcdefghjkmnpqrstvwxyz0123456789", min_size=26, max_size=26))
def test_referrer_carries_the_click(suffix: str) -> None:
    click_id = f"clk_{suffix}"
    assert referrer_click_id(f"rk_click={click_id}") == click_id
    assert referrer_click_id(f"utm_source=x&rk_click={click_id}") == click_id
    assert referrer_click_id(f"rk_click%3D{click_id}%26utm_source%3Dgoogle") == click_id
    assert referrer_click_id("utm_source=google-play&utm_medium=organic") is None
