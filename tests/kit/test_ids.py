"""Ids: prefixed, 26 Crockford base32 digits, unique, and sorted in creation order."""

from __future__ import annotations

import pytest

from referkit.kit.ids import _ALPHABET, _encode, looks_like_id, new_id


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
