"""One grammar for numbers written as text, everywhere (docs/policy-format.md, "Numbers in text").

ASCII digits, an optional leading '-', an optional '.' and fraction; nothing else. It applies to
money strings in a complaint and to integer, number and money facts typed on a command line or in a
CSV column. Regression (issue 14): "12\\n", Arabic-Indic and full-width digits were accepted as money
(a full-width customer_value made a customer platinum), integers took "1_000_000", " 12000 " and
"+12000", and "-0" printed as "-0.00".
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import ComplaintError, Policy, loads_policy
from gesture_engine.batch import decide_records, read_records
from gesture_engine.complaint import parse_complaint_json
from tests.conftest import MINIMAL

OK = {"severity": "low", "channel": "email"}
OUTSIDE = ["12\n", "\n12", " 12", "12 ", "١٢٠٠٠", "１２３４５", "1２", "1_000", "+12", "1e5", "12.", ".5", "1.2.3", "0x10", "", "-", "--1",
           "1,5", "12\t", "١٢.٥", "inf", "nan", "1" * 41]
"""Texts outside the grammar: each is refused as the text it is, whatever the fact's type."""


def refused(policy: Policy, complaint: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ComplaintError) as caught:
        policy.decide(complaint)
    return {p.field: p.code for p in caught.value.problems}


@pytest.mark.parametrize("text", OUTSIDE)
def test_money_strings_outside_the_grammar_are_refused(default_policy: Policy, text: str) -> None:
    assert refused(default_policy, {**OK, "customer_value": text}) == {"customer_value": "wrong_type"}


@pytest.mark.parametrize("text", OUTSIDE)
def test_command_line_and_csv_integers_outside_the_grammar_are_refused(default_policy: Policy, text: str) -> None:
    complaint = default_policy.complaint_from_text({**OK, "audience": text, "customer-value": text})
    assert complaint["audience"] == text  # not converted: refused as the text it is
    assert refused(default_policy, complaint) == {"audience": "wrong_type", "customer_value": "wrong_type"}


NUMBERS = MINIMAL.replace("  spend: {type: money, default: 0}", "  spend: {type: money, default: 0}\n  score: {type: number, default: 0}")


@pytest.mark.parametrize("text", OUTSIDE)
def test_command_line_numbers_outside_the_grammar_are_refused(text: str) -> None:
    policy = loads_policy(NUMBERS)
    complaint = policy.complaint_from_text({"severity": "low", "score": text})
    assert refused(policy, complaint) == {"score": "wrong_type"}


@pytest.mark.parametrize(("text", "audience", "money"), [("0", 0, "0"), ("12000", 12000, "12000"), ("-0", 0, "0"), ("007", 7, "7"),
                                                         ("12.50", None, "12.50"), ("-0.00", None, "0.00")])
def test_texts_in_the_grammar_are_read(default_policy: Policy, text: str, audience: int | None, money: str) -> None:
    complaint = default_policy.complaint_from_text({**OK, "customer_value": text, **({"audience": text} if audience is not None else {})})
    decision = default_policy.decide(complaint)
    assert decision.facts["customer_value"] == Decimal(money) and str(decision.facts["customer_value"]) == money
    if audience is not None:
        assert decision.facts["audience"] == audience


def test_a_fraction_is_not_an_integer_and_a_minus_is_range_checked(default_policy: Policy) -> None:
    assert refused(default_policy, default_policy.complaint_from_text({**OK, "audience": "12.0"})) == {"audience": "wrong_type"}
    assert refused(default_policy, default_policy.complaint_from_text({**OK, "audience": "-3"})) == {"audience": "out_of_range"}
    assert refused(default_policy, {**OK, "customer_value": "-3"}) == {"customer_value": "out_of_range"}


@pytest.mark.parametrize("zero", ["-0", "-0.00", Decimal("-0"), Decimal("-0.0"), -0.0])
def test_negative_zero_reads_and_prints_as_zero(default_policy: Policy, zero: Any) -> None:
    decision = default_policy.decide({**OK, "severity": "high", "order_value": zero})
    assert not decision.facts["order_value"].is_signed()
    assert "-0" not in decision.model_dump_json()
    assert "-0" not in decision.budget.summary


def test_negative_zero_in_json_reads_as_zero(default_policy: Policy) -> None:
    decision = default_policy.decide(parse_complaint_json('{"severity": "high", "channel": "email", "order_value": -0.0}'))
    assert str(decision.facts["order_value"]) == "0.0"
    policy = loads_policy(NUMBERS)
    for score, shown in ((-0.0, "0.0"), ("-0", "0"), ("-0.0", "0.0")):  # a number is held as written, without the sign of zero
        complaint = policy.complaint_from_text({"severity": "low", "score": score}) if isinstance(score, str) else {"severity": "low", "score": score}
        assert str(policy.decide(complaint).facts["score"]) == shown


@pytest.mark.parametrize("digits", ["١٢", "１２", "1٢"])
def test_json_numbers_are_ascii_digits_only(digits: str) -> None:
    with pytest.raises(ComplaintError) as caught:
        parse_complaint_json('{"severity": "low", "audience": ' + digits + "}")
    assert [p.code for p in caught.value.problems] == ["invalid_json"]


@pytest.mark.parametrize("text", ["1_000_000", " 12000 ", "+12000", "１２０００", "12000\n"])
def test_the_command_line_refuses_what_the_grammar_refuses(text: str) -> None:
    result = CliRunner().invoke(cli, ["decide", "--severity", "low", "--channel", "email", "--audience", text, "--json"])
    assert result.exit_code == 3, result.output
    assert "audience: expected an integer" in result.output
    result = CliRunner().invoke(cli, ["decide", "--severity", "low", "--channel", "email", "--customer-value", text, "--json"])
    assert result.exit_code == 3 and "customer_value: expected an amount of money" in result.output


def test_csv_columns_follow_the_same_grammar(default_policy: Policy) -> None:
    data = "severity,channel,audience,customer_value\nlow,email,+12000,1\nlow,email,12000,１２３４５\nlow,email,-0,-0\n".encode()
    out = [json.loads(line) for line in decide_records(default_policy, read_records(io.BytesIO(data), "csv"))]
    assert [p["field"] for p in out[0]["problems"]] == ["audience"]
    assert [p["field"] for p in out[1]["problems"]] == ["customer_value"]
    assert out[2]["facts"]["audience"] == 0 and out[2]["facts"]["customer_value"] == "0"
