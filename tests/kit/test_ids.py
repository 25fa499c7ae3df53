"""Ids: prefixed, 26 Crockford base32 digits, unique, and sorted in creation order."""

from __future__ import annotations

import pytest

from referkit.kit import ids as ids_module
from referkit.kit.ids import _ALPHABET, _encode, looks_like_id, new_id, new_ids


def _reference(value: int) -> str:
    digits = []
    for _ in range(26):
        digits.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(digits))


@pytest.mark.parametrize("value", [0, 1, 31, 32, 2**80 - 1, 2**127 + 12345, 2**128 - 1])
def test_encoding_is_crockford_base32(value: int) -> None:
    assert _encode(value) == _reference(value)


def test_ids_are_unique_and_sort_in_creation_order() -> None:
    ids = [new_id("clk") for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(looks_like_id(i, "clk") for i in ids)
    with pytest.raises(ValueError, match="unknown id prefix"):
        new_id("nope")


def test_batches_of_ids_continue_the_sequence() -> None:
    ids = [new_id("evt"), *new_ids("evt", 2000), new_id("evt"), *new_ids("evt", 3)]
    assert len(set(ids)) == len(ids) == 2005
    assert ids == sorted(ids)
    assert all(looks_like_id(i, "evt") for i in ids)
    assert new_ids("evt", 0) == []
    with pytest.raises(ValueError, match="unknown id prefix"):
        new_ids("nope", 1)


def test_a_batch_encodes_as_single_ids_do(monkeypatch: pytest.MonkeyPatch) -> None:
    ms = 1_900_000_000_000
    monkeypatch.setattr(ids_module.time, "time_ns", lambda: ms * 1_000_000)
    monkeypatch.setattr(ids_module, "_last_ms", ms)
    monkeypatch.setattr(ids_module, "_last_random", 2**80 - 2)  # the batch wraps around
    batch = new_ids("ref", 3)
    assert [i[4:] for i in batch] == [_reference((ms << 80) | low) for low in (2**80 - 1, 0, 1)]
