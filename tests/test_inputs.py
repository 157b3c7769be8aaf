"""Complaint JSON: the quick parse of flat complaints never answers differently from a careful one.

The reference below parses every text with Python hooks for everything the engine refuses (a key
given twice, NaN/Infinity, integers of more than 400 digits); ``parse_complaint_json`` must accept
exactly what it accepts, with equal values of the same types, and refuse the rest with our codes.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest

from gesture_engine import ComplaintError
from gesture_engine.complaint import MAX_INTEGER_DIGITS, parse_complaint_json

TRICKY = [
    '{"a": 1, "a": 2}',
    '{"a" : 1, "a":2}',
    '{"a": 1, "\\u0061": 2}',
    '{"at": "09:30", "at": "x"}',
    '{"x": {"y": 1, "y": 2}}',
    '{"x": [{"y": 1, "y": 2}]}',
    '{"x": {"y": 1}, "x": 2}',
    '{"n": 1.50}',
    '{"n": NaN}',
    '{"n": Infinity}',
    '{"n": -0.0, "m": 1e400}',
    '{"n": ' + "9" * 401 + '}',
    '{"n": ' + "9" * 400 + '}',
    '{"x": {"y": 1}}',
    '{"x": [1, 2]}',
    '{"x": [{}]}',
    '{"s": "{[:]}"}',
    '[1, 2]',
    '"text"',
    '{"a": 1,}',
    '{"a": "\\ud800"}',
    '{}',
    '  {"a": true, "b": null}  \r',
    '{"a": 1} {"b": 2}',
    '{"a": 1}x',
    "\ufeff{\"a\": 1}",
    '{"severity": "low", "channel": "chat", "complaint_id": "a:b"}',
    '{"severity": "low"',
    "null", "", "   ",
]


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError("repeated key")
    return dict(pairs)


def _integer(text: str) -> int:
    if len(text) > MAX_INTEGER_DIGITS:
        raise ValueError("too long")
    return int(text)


def _constant(name: str) -> Any:
    raise ValueError(name)


def _reference(text: str) -> tuple[str, Any]:
    """The careful parse, written independently: every hook in Python."""
    try:
        return "ok", json.loads(text, parse_float=Decimal, parse_int=_integer, parse_constant=_constant, object_pairs_hook=_unique)
    except (ValueError, RecursionError):
        return "refused", None


def _ours(text: str | bytes) -> tuple[str, Any]:
    try:
        return "ok", parse_complaint_json(text)
    except ComplaintError as error:
        assert error.problems and all(p.code in ("invalid_json", "repeated_key", "not_utf8") for p in error.problems), error
        return "refused", None


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_types(item) for item in value]
    return type(value)


def _same(text: str) -> None:
    for given, expected in ((text, _reference(text)), (text.encode(), _reference(text.removeprefix("\ufeff")))):  # a BOM is skipped in bytes
        found = _ours(given)
        assert found == expected, text
        if found[0] == "ok":
            assert _types(found[1]) == _types(expected[1]), text


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_texts_parse_as_the_careful_reference_does(text: str) -> None:
    _same(text)


def test_repeated_keys_are_refused_whatever_the_spacing_or_depth() -> None:
    for text in TRICKY[:7]:
        with pytest.raises(ComplaintError, match="more than once") as info:
            parse_complaint_json(text)
        assert {p.code for p in info.value.problems} == {"repeated_key"}


def test_random_complaints_parse_as_the_careful_reference_does() -> None:
    rnd = random.Random(11)
    values: list[Any] = [1, -7, 10**15, 12.5, "x", "a:b", "", True, None, "{", "[", {"k": 1}, [1, 2], [{"k": 1}], {}]
    for _ in range(3000):
        keys = rnd.sample(["severity", "channel", "audience", "customer_value", "note", "at", "k"], rnd.randint(0, 7))
        members = []
        for key in keys:
            value = rnd.choice(values)
            members.append(f'{json.dumps(key)}{rnd.choice([":", " : ", ": "])}{json.dumps(value)}')
        if members and rnd.random() < 0.2:
            members.append(members[0])  # a repeated key
        _same(rnd.choice(["", " ", "\ufeff"]) + "{" + ", ".join(members) + "}" + rnd.choice(["", " ", "\n", "x"]))
    assert parse_complaint_json('{"v": 12.50}') == {"v": Decimal("12.50")}


def test_errors_are_located_and_coded() -> None:
    with pytest.raises(ComplaintError) as info:
        parse_complaint_json('{\n  "a": 1,\n  "b": }', "line 7")
    (problem,) = info.value.problems
    assert (problem.field, problem.code) == ("line 7:3:8", "invalid_json")
    with pytest.raises(ComplaintError) as info:
        parse_complaint_json(b'{"a": "\xff"}', "line 8")
    (problem,) = info.value.problems
    assert (problem.field, problem.code) == ("line 8", "not_utf8")
