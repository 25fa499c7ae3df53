"""The redaction of a person's traces inside stored documents, and the id bound of a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from referkit.kit.ids import id_floor, new_id
from referkit.privacy.scrub import REDACTED, Traces, scrub

TRACES = Traces.of(
    strong=["Jane@Example.org", "ext-77", "7", "203.0.113.9"],
    exact=["Jane"],
    ids=["cus_1"],
    records=["evt_1"],
    keys=["jane@example.org"],
)


def test_values_are_redacted_by_kind() -> None:
    document = {
        "type": "referral.created",
        "data": {
            "referee": {"email": "jane@example.org", "external_id": "ext-77", "name": "Jane"},
            "customer_id": "cus_1",
            "note": "Jane said hi from jane@EXAMPLE.org",
            "count": 7,
            "code": "A7B",
            "label": "7",
            "other": "Janet",
            "signals": [{"evidence": {"ip": "203.0.113.9"}}],
        },
    }
    scrubbed, changed = scrub(document, TRACES)
    assert changed
    data = scrubbed["data"]
    assert data["referee"] == {"email": REDACTED, "external_id": REDACTED, "name": REDACTED}
    assert data["customer_id"] is None
    assert data["note"] == REDACTED
    # Short traces and names match whole strings only; numbers and keys are left alone.
    assert (data["count"], data["code"], data["label"], data["other"]) == (
        7,
        "A7B",
        REDACTED,
        "Janet",
    )
    assert data["signals"][0]["evidence"]["ip"] == REDACTED
    assert document["data"]["referee"]["name"] == "Jane"  # the input is not mutated


def test_their_records_lose_free_form_data() -> None:
    events = [
        {"id": "evt_1", "properties": {"plan": "pro"}},
        {"id": "evt_2", "properties": {"a": 1}},
    ]
    scrubbed, changed = scrub(events, TRACES)
    assert changed
    assert scrubbed == [{"id": "evt_1", "properties": {}}, {"id": "evt_2", "properties": {"a": 1}}]
    assert scrub({"id": "evt_9", "n": "x"}, TRACES) == ({"id": "evt_9", "n": "x"}, False)


def test_needles_are_identifiers_not_shared_values() -> None:
    assert TRACES.needles() == ["cus_1", "jane@example.org"]
    assert TRACES.hit("echo: 203.0.113.9")
    assert not TRACES.hit("nothing personal here")


def test_id_floor_orders_ids_by_time() -> None:
    now = datetime.now(UTC)
    made = new_id("clk")
    assert (
        id_floor("clk", now - timedelta(seconds=1))
        < made
        < id_floor("clk", now + timedelta(seconds=1))
    )
