"""JSON columns on SQLite are parsed by pydantic-core's parser (``db.engine.json_loads``), with
``json.loads``'s answers: what a JSON column holds reads back exactly as before."""

from __future__ import annotations

import json
import random
import struct

import pytest
from pydantic_core import from_json

from referkit.db.engine import json_loads

SAMPLES = [
    '{"a": 1, "b": [1, 2.5, "x", null, true, false]}',
    '{"big": 123456789012345678901234567890, "neg": -0.0, "tiny": 5e-324}',
    '{"a": 1, "a": 2}',
    '"\\ud800"',
    '{"s": "\\u00e9\\n\\t\\"", "deep": [[[[{"k": []}]]]]}',
    "1e400",
    "NaN",
    "[]",
    "{}",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_json_loads_answers_as_json_loads(text: str) -> None:
    assert repr(json_loads(text)) == repr(json.loads(text))


def test_floats_read_back_exactly() -> None:
    rng = random.Random(19)
    for _ in range(20_000):
        value = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        if value != value or abs(value) == float("inf"):
            continue
        text = json.dumps({"v": value})
        assert json_loads(text) == json.loads(text)


@pytest.mark.parametrize("text", ['"\\udc80"', '["a\\ud800"]', '{"\\ud800": 1}'])
def test_lone_surrogates_the_fast_parser_refuses_are_parsed_by_json_loads(text: str) -> None:
    with pytest.raises(ValueError):
        from_json(text)
    assert json_loads(text) == json.loads(text)


def test_what_both_refuse_is_refused() -> None:
    with pytest.raises(ValueError):
        json_loads('{"value": "tab\tinside"}')  # a raw control character
