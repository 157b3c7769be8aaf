"""Hostile complaints get one ComplaintError naming every bad field and its expected form.

Coercion rule under test (gesture_engine/facts.py): money also accepts a plain decimal string,
nothing else is coerced. Everything here runs against the embedded default policy.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gesture_cli.main import cli
from gesture_engine import ComplaintError, Policy
from gesture_engine.complaint import parse_complaint_json

OK = {"severity": "low", "channel": "email"}
MONEY = "an amount of money ≥ 0"


def problems(policy: Policy, complaint: Any) -> dict[str, str]:
    with pytest.raises(ComplaintError) as info:
        policy.decide(complaint)
    found = {p.field: p.message for p in info.value.problems}
    assert len(found) == len(info.value.problems), "one problem per field"
    return found


CASES: dict[str, tuple[Any, dict[str, str]]] = {
    "missing required facts": ({}, {"severity": "is required: one of low, medium, high, critical", "channel": "is required: one of email"}),
    "unknown fields": ({**OK, "sevrity": "high", "colour": "red"},
                       {"sevrity": "is not a fact of this policy (did you mean 'severity'?)", "colour": "is not a fact of this policy"}),
    "derived facts are not inputs": ({**OK, "tier": "gold"}, {"tier": "is derived by the policy"}),
    "true is not an integer": ({**OK, "audience": True}, {"audience": "expected an integer; got true"}),
    "a decimal is not an integer": ({**OK, "audience": Decimal("5.0")}, {"audience": "expected an integer; got 5.0"}),
    "a string is not an integer": ({**OK, "audience": "12"}, {"audience": "expected an integer; got '12'"}),
    "a string is not a level": ({**OK, "severity": 3}, {"severity": "expected one of low, medium, high, critical; got 3"}),
    "a near miss gets a hint": ({**OK, "severity": "hihg"}, {"severity": "(did you mean 'high'?)"}),
    "case matters": ({**OK, "channel": "Email"}, {"channel": "expected one of email, phone"}),
    "nan and infinities": (
        {**OK, "customer_value": float("nan"), "order_value": Decimal("Infinity"), "goodwill_last_90d": float("-inf"), "audience": float("inf")},
        {"customer_value": f"expected {MONEY}", "order_value": f"expected {MONEY}", "goodwill_last_90d": f"expected {MONEY}",
         "audience": "expected an integer"},
    ),
    "negative money": ({**OK, "customer_value": -1, "order_value": "-3", "goodwill_last_90d": Decimal("-0.01")},
                       {"customer_value": "must be ≥ 0; got -1", "order_value": "must be ≥ 0; got '-3'", "goodwill_last_90d": "must be ≥ 0"}),
    "negative integer below the fact's min": ({**OK, "audience": -5}, {"audience": "must be ≥ 0; got -5"}),
    "absurd money": (
        {**OK, "customer_value": 1e309, "order_value": 10**30, "goodwill_last_90d": Decimal("1e309")},
        {"customer_value": "decimal string); got inf", "order_value": "must be ≤ 1000000000000", "goodwill_last_90d": "must be ≤ 1000000000000"},
    ),
    "30-digit money string": ({**OK, "customer_value": "1" * 30}, {"customer_value": "must be ≤ 1000000000000; got '111111"}),
    "money strings are plain decimals only": (
        {**OK, "customer_value": "1e5", "order_value": " 12", "goodwill_last_90d": "12,50"},
        {"customer_value": f"expected {MONEY} (number or decimal string); got '1e5'", "order_value": "got ' 12'", "goodwill_last_90d": "got '12,50'"},
    ),
    "too many decimal places": ({**OK, "customer_value": "1.00000000001"}, {"customer_value": "has more than 10 decimal places"}),
    "absurd integer": ({**OK, "audience": 10**100}, {"audience": "must be between -1000000000000000 and 1000000000000000"}),
    "an integer Python will not print": ({**OK, "audience": 10**5000, "complaint_id": 10**5000},
                                         {"audience": "got an integer of", "complaint_id": "got an integer of"}),
    "over-long strings": ({**OK, "severity": "x" * 10_000, "complaint_id": "x" * 1000},
                          {"severity": "got 'xxxxxxxx", "complaint_id": "expected a string or integer id of at most 200 characters"}),
    "nested objects where scalars belong": ({**OK, "severity": {"level": "high"}, "audience": [1], "customer_value": {"amount": 5}},
                                            {"severity": "got a dict", "audience": "got a list", "customer_value": "got a dict"}),
    "null counts as absent": ({"severity": None, "channel": "email", "audience": None}, {"severity": "is required"}),
    "envelope fields are checked": (
        {**OK, "complaint_id": 3.5, "customer_id": True, "received_at": "yesterday"},
        {"complaint_id": "expected a string or integer id", "customer_id": "got true", "received_at": "expected an ISO 8601 time with a timezone"},
    ),
    "times need a timezone": ({**OK, "received_at": "2026-01-01T00:00:00"}, {"received_at": "with a timezone"}),
    "lone surrogates cannot be echoed": ({**OK, "complaint_id": "\ud800", "x\udc00": 1},
                                         {"complaint_id": "expected a string or integer id", "'x\\udc00'": "valid Unicode"}),
    "non-string field names": ({**OK, 1: 2}, {"1": "field names must be strings"}),
    "a list is not a complaint": ([OK], {"(complaint)": "expected an object of facts; got a list"}),
    "null is not a complaint": (None, {"(complaint)": "expected an object of facts; got null"}),
    "a string is not a complaint": ("severity=high", {"(complaint)": "expected an object of facts; got 'severity=high'"}),
    "money text outside the one grammar": (
        {**OK, "customer_value": "12\n", "order_value": "١٢٠٠٠", "goodwill_last_90d": "１２３４５"},
        {"customer_value": f"expected {MONEY}", "order_value": f"expected {MONEY}", "goodwill_last_90d": f"expected {MONEY}"},
    ),
    "more money text outside it": ({**OK, "customer_value": "+12", "order_value": "1_000", "goodwill_last_90d": "1e3"},
                                   {"customer_value": "got '+12'", "order_value": "got '1_000'", "goodwill_last_90d": "got '1e3'"}),
    "a huge bad value gets no suggestion and a short message": ({**OK, "severity": "hihg" + "h" * 1_000_000},
                                                                {"severity": "got 'hihghhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh...'"}),
    "a huge unknown key is named short": ({**OK, "x" * 1_000_000: 1}, {"x" * 77 + "...": "is not a fact of this policy"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_problem_in_one_error(default_policy: Policy, name: str) -> None:
    complaint, expected = CASES[name]
    found = problems(default_policy, complaint)
    assert set(found) == set(expected), found
    for field, text in expected.items():
        assert text in found[field], (field, found[field])


def test_all_problems_of_a_hostile_payload_come_together(default_policy: Policy) -> None:
    complaint = {"severity": "HIGH", "audience": True, "customer_value": "12", "order_value": float("nan"), "tier": "gold", "spam": 1}
    found = problems(default_policy, complaint)
    assert sorted(found) == ["audience", "channel", "order_value", "severity", "spam", "tier"]  # "12" is valid money


def test_money_accepts_decimal_strings_exactly(default_policy: Policy) -> None:
    """The one coercion: money as text keeps every digit, exactly like the same JSON number."""
    as_text = default_policy.decide({**OK, "severity": "high", "order_value": "1234.5678901234"})
    as_number = default_policy.decide({**OK, "severity": "high", "order_value": Decimal("1234.5678901234")})
    assert as_text.facts["order_value"] == Decimal("1234.5678901234")
    assert as_text.model_dump_json() == as_number.model_dump_json()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"severity": NaN}', "NaN is not a number JSON allows"),
        (b'{"severity": Infinity}', "Infinity is not a number JSON allows"),
        (b'{"x": -Infinity}', "-Infinity is not a number JSON allows"),
        (b"\xff\xfe{}", "is not valid UTF-8 (byte 0)"),
        (b"{", "invalid JSON"),
        (b"", "invalid JSON: Expecting value"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"audience": 1' + b"0" * 5000 + b"}", "an integer of 5001 digits is too large"),
    ],
)
def test_unparseable_json_is_a_complaint_error(raw: bytes, expected: str) -> None:
    with pytest.raises(ComplaintError) as info:
        parse_complaint_json(raw, "<stdin>")
    assert len(info.value.problems) == 1
    assert expected in info.value.problems[0].message


def test_repeated_keys_are_refused_not_silently_last_wins() -> None:
    with pytest.raises(ComplaintError) as info:
        parse_complaint_json(b'{"severity": "low", "severity": "critical", "channel": "email", "channel": "press"}')
    assert [p.field for p in info.value.problems] == ["severity", "channel"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"received_at": "2026-12-01T09:30:00Z", "severity": "low", "severity": "critical"}',  # colons in a string, then a repeat
        b'{"note": "a:b", "severity": "low", "severity": "critical"}',
        b'{"note": "\\u003a", "severity": "low", "severity": "critical"}',  # an escaped colon must not make up for the lost member
        b'{"severity": "low", "x": {"a:": 1}, "severity": "critical"}',
        b'{"tags": ["a", "b"], "severity": "low", "tags": []}',  # strings in a list, then a repeat that drops them
        b'{"severity": 1, "severity": "low"}',  # the kept value a string, the lost one not
        b'{"severity": "low", "x": [{}], "x": [{}]}',  # objects with no key of their own
    ],
)
def test_repeated_keys_are_refused_whatever_the_strings_hold(raw: bytes) -> None:
    with pytest.raises(ComplaintError) as info:
        parse_complaint_json(raw)
    assert [p.code for p in info.value.problems] == ["repeated_key"]


def test_a_flat_complaint_with_colons_in_its_strings_parses_as_written() -> None:
    raw = b'{"complaint_id": "T:1", "received_at": "2026-12-01T09:30:00Z", "severity": "high", "order_value": 12.50}'
    assert parse_complaint_json(raw) == {"complaint_id": "T:1", "received_at": "2026-12-01T09:30:00Z", "severity": "high",
                                         "order_value": Decimal("12.50")}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"tags": ["press", "vip"], "severity": "high"}',
        b'{"x": {"severity": "low"}, "y": [{"a": 1}, {"a": 2}]}',
        b'{"x": {}, "y": [], "z": [1, "a", null]}',
    ],
)
def test_lists_and_nested_objects_parse_as_the_careful_decoder_reads_them(raw: bytes) -> None:
    assert parse_complaint_json(raw) == json.loads(raw, parse_float=Decimal)


@given(st.dictionaries(st.sampled_from(["a", "b", "severity", "x:y", "tags"]),
                       st.one_of(st.text(alphabet='ab:"\\', max_size=4), st.integers(), st.none(), st.booleans(),
                                 st.lists(st.one_of(st.text(alphabet='ab:', max_size=3), st.integers()), max_size=3),
                                 st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2)), max_size=5),
       st.lists(st.sampled_from(["a", "b", "severity", "x:y", "tags"]), max_size=2))
def test_the_quick_parse_refuses_every_repeat_and_reads_the_rest_as_written(members: dict[str, Any], repeated: list[str]) -> None:
    """Members written in order, then some keys again: a text with a repeat is refused, any other reads as json does."""
    pairs = [*members.items(), *((key, "again") for key in repeated)]
    raw = "{" + ", ".join(f"{json.dumps(key)}: {json.dumps(value)}" for key, value in pairs) + "}"
    if len({key for key, _ in pairs}) < len(pairs):
        with pytest.raises(ComplaintError) as info:
            parse_complaint_json(raw)
        assert info.value.problems[0].code == "repeated_key"
    else:
        assert parse_complaint_json(raw) == json.loads(raw, parse_float=Decimal)


def test_json_numbers_stay_exact_and_a_bom_is_ignored(default_policy: Policy) -> None:
    parsed = parse_complaint_json(b'\xef\xbb\xbf{"severity": "high", "channel": "email", "order_value": 0.1}')
    assert parsed["order_value"] == Decimal("0.1")
    assert default_policy.decide(parsed).facts["order_value"] == Decimal("0.1")


@pytest.mark.parametrize(
    ("stdin", "expected"),
    [
        (b'{"severity": "high", "channel": "email"\xff}', "not valid UTF-8"),
        (b'{"severity": NaN, "channel": "email"}', "NaN is not a number JSON allows"),
        (b'{"severity": true, "channel": "fax", "audience": "12"}', "channel: expected one of"),
        (b'{"severity": "low", "channel": "email", "complaint_id": "\\ud800"}', "complaint_id: expected a string or integer id"),
        (b"[1, 2]", "expected an object of facts"),
    ],
)
def test_decide_from_stdin_exits_3_without_a_traceback(stdin: bytes, expected: str) -> None:
    result = CliRunner().invoke(cli, ["decide", "-", "--json"], input=stdin)
    assert result.exit_code == 3, result.output
    assert isinstance(result.exception, SystemExit)
    assert expected in result.output
    assert "Traceback" not in result.output
