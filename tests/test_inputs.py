"""Complaint JSON: the C-only fast parse of flat complaints agrees with the careful parse."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest

from gesture_engine import ComplaintError
from gesture_engine.inputs import _DECODER, _flat, parse_complaint_json

TRICKY = [
    '{"a": 1, "a": 2}',
    '{"a" : 1, "a":2}',
    '{"a": 1, "\\u0061": 2}',
    '{"at": "09:30", "at": "x"}',
    '{"n": 1.50}',
    '{"n": NaN}',
    '{"n": Infinity}',
    '{"n": -0.0, "m": 1e400}',
    '{"n": ' + "9" * 401 + '}',
    '{"x": {"y": 1}}',
    '{"x": [1, 2]}',
    '{"s": "{[:]}"}',
    '[1, 2]',
    '"text"',
    '{"a": 1,}',
    '{"a": "\\ud800"}',
    '{}',
    '  {"a": true, "b": null}  \\r',
]


def _careful(text: str) -> tuple[str, Any]:
    try:
        return "ok", _DECODER.decode(text)
    except Exception as error:  # the careful parse's refusal, whatever it is
        return "refused", type(error).__name__


@pytest.mark.parametrize("text", TRICKY)
def test_fast_parse_never_disagrees(text: str) -> None:
    fast = _flat(text)
    if fast is not None:  # when it answers, it answers what the careful parse does
        assert ("ok", fast) == _careful(text)
        assert all(type(value) is type(_careful(text)[1][key]) for key, value in fast.items())


def test_repeated_keys_are_refused_whatever_the_spacing() -> None:
    for text in TRICKY[:4]:
        with pytest.raises(ComplaintError, match="more than once"):
            parse_complaint_json(text)


def test_random_flat_complaints_parse_the_same_both_ways() -> None:
    rnd = random.Random(11)
    for _ in range(2000):
        keys = rnd.sample(["severity", "channel", "audience", "customer_value", "note", "at"], rnd.randint(0, 6))
        members = []
        for key in keys:
            value = rnd.choice([1, -7, 10**15, 12.5, "x", "a:b", "", True, None, "{"])
            members.append(f'{json.dumps(key)}{rnd.choice([":", " : ", ": "])}{json.dumps(value)}')
        if members and rnd.random() < 0.2:
            members.append(members[0])  # a repeated key
        text = "{" + ", ".join(members) + "}"
        fast = _flat(text)
        careful = _careful(text)
        if fast is not None:
            assert ("ok", fast) == careful
        if careful[0] == "ok":
            assert parse_complaint_json(text) == careful[1]
    assert parse_complaint_json('{"v": 12.50}') == {"v": Decimal("12.50")}
