"""The referral state machine against an independent model of API.md's transitions.

API.md: pending→qualified→approved, pending→denied, denied→pending, qualified→denied; approved is
final; pending→approved passes through qualified. Asking for the current status changes nothing.
The model below is written from that sentence, not from ``referral/states.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from referkit.errors import InvalidTransition
from referkit.referral.states import ReferralStatus, plan
from tests.factories import Key, create_member, create_program, create_referral

STATUSES = ["pending", "qualified", "approved", "denied"]
DIRECT = {
    ("pending", "qualified"),
    ("qualified", "approved"),
    ("pending", "denied"),
    ("denied", "pending"),
    ("qualified", "denied"),
}
THROUGH = {("pending", "approved"): ("qualified", "approved")}


def model_plan(current: str, target: str) -> tuple[str, ...] | None:
    """The statuses passed through, or None when the change is refused."""
    if current == target:
        return ()
    if (current, target) in DIRECT:
        return (target,)
    return THROUGH.get((current, target))


def model_allowed(current: str) -> list[str]:
    return sorted({t for c, t in DIRECT | set(THROUGH) if c == current})


status_names = st.sampled_from(STATUSES)


@given(current=status_names, target=status_names)
def test_plan_matches_the_model(current: str, target: str) -> None:
    expected = model_plan(current, target)
    if expected is None:
        with pytest.raises(InvalidTransition) as refused:
            plan(ReferralStatus(current), ReferralStatus(target))
        assert refused.value.extra["allowed"] == model_allowed(current)
        assert refused.value.extra["current_status"] == current
        assert refused.value.extra["requested_status"] == target
        assert refused.value.status_code == 409
        return
    steps = plan(ReferralStatus(current), ReferralStatus(target))
    assert [s.value for s in steps] == list(expected)
    # Every step is a single edge of the diagram, and the walk ends where it was asked to.
    position = current
    for step in steps:
        assert (position, step.value) in DIRECT
        position = step.value
    assert position == target


def test_the_model_covers_every_pair() -> None:
    """Guards the property test: approved is final, and every other status can move."""
    assert model_allowed("approved") == []
    for status in ("pending", "qualified", "denied"):
        assert model_allowed(status)
    refused = [(c, t) for c in STATUSES for t in STATUSES if model_plan(c, t) is None]
    assert sorted(refused) == sorted(
        [
            ("approved", "pending"),
            ("approved", "qualified"),
            ("approved", "denied"),
            ("qualified", "pending"),
            ("denied", "qualified"),
            ("denied", "approved"),
        ]
    )


@given(requests=st.lists(status_names, max_size=30))
def test_any_request_sequence_stays_on_the_diagram(requests: list[str]) -> None:
    status = "pending"
    for target in requests:
        expected = model_plan(status, target)
        if expected is None:
            with pytest.raises(InvalidTransition):
                plan(ReferralStatus(status), ReferralStatus(target))
            continue
        assert [s.value for s in plan(ReferralStatus(status), ReferralStatus(target))] == list(
            expected
        )
        status = target


# --- the same model, through HTTP on one referral ----------------------------------------------


@pytest.fixture
async def member(client: httpx.AsyncClient, key: Key) -> dict[str, Any]:
    program = await create_program(client, key)
    return await create_member(client, key, program["id"])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(requests=st.lists(st.tuples(status_names, st.booleans()), max_size=8))
# Always try the walks that matter most: qualified, denied, back to pending (qualified_at must
# survive it), then approved through qualified again; and approved followed by every refusal.
@example(requests=[("qualified", False), ("denied", True), ("pending", False)])
@example(requests=[("qualified", False), ("denied", True), ("pending", False), ("approved", True)])
@example(requests=[("approved", True), ("denied", False), ("pending", False), ("qualified", True)])
async def test_http_transitions_follow_the_model(
    client: httpx.AsyncClient, key: Key, member: dict[str, Any], requests: list[tuple[str, bool]]
) -> None:
    # Each example gets its own referral (a new referee), so examples never interfere.
    referral = await create_referral(
        client, key, member["referral_code"], email=f"sm-{uuid.uuid4().hex}@example.com"
    )
    status, history, ever_qualified = "pending", ["pending"], False
    for target, with_note in requests:
        body: dict[str, Any] = {"status": target}
        if with_note:
            body["note"] = f"to {target}"
        response = await client.patch(
            f"/api/v1/referrals/{referral['id']}", json=body, headers=key.headers
        )
        expected = model_plan(status, target)
        if expected is None:
            assert response.status_code == 409, (status, target, response.text)
            assert response.json()["code"] == "invalid_transition"
            assert response.json()["allowed"] == model_allowed(status)
            continue
        assert response.status_code == 200, (status, target, response.text)
        referral = response.json()
        history.extend(expected)
        ever_qualified = ever_qualified or "qualified" in expected
        status = target
        assert referral["status"] == status

    final = (await client.get(f"/api/v1/referrals/{referral['id']}", headers=key.headers)).json()
    assert final["status"] == status
    assert [step["status"] for step in final["status_history"]] == history
    assert (final["qualified_at"] is not None) == ever_qualified
    assert (final["approved_at"] is not None) == (status == "approved")
    assert (final["denied_at"] is not None) == (status == "denied")
