"""Money with a currency: converted at the policy's declared rates (and shown so), else refused."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from gesture_cli.main import cli
from gesture_engine import ComplaintError, Decision, PolicyError
from gesture_engine.jsonschemas import schema_text
from tests.conftest import make_policy, policy_text

FACTS = {"severity": {"type": "level", "values": ["low", "high"], "required": True}, "order": {"type": "money", "default": 0},
         "given": {"type": "money", "default": 0}}
RULES = [{"id": "pay", "default": True, "then": {"action": "pay", "gestures": ["credit"],
                                                  "budget": {"base": 0, "percent_of": {"fact": "order", "percent": 10}}}}]
POLICY = make_policy(facts=FACTS, rules=RULES, exchange_rates={"EUR": 1.08, "JPY": 0.0067},
                     goodwill={"fact": "given", "window_limit": 100, "window": "90 days"})


def test_an_amount_in_another_currency_is_converted_and_the_steps_show_it() -> None:
    decision = POLICY.decide({"severity": "low", "order": {"amount": "320.50", "currency": "EUR"}})
    assert decision.facts["order"] == Decimal("346.14")  # 320.50 × 1.08 = 346.14, to the cent
    assert decision.budget.summary == "base 0.00 + 34.61 (10% of order 346.14 (320.50 EUR × 1.08)) = 34.61"
    assert Decision.model_validate_json(decision.model_dump_json()) == decision
    yen = POLICY.decide({"severity": "low", "order": {"amount": 150000, "currency": "JPY"}, "given": {"amount": 12000, "currency": "JPY"}})
    assert yen.facts["order"] == Decimal("1005.00") and yen.budget.amount == Decimal("19.60")
    assert yen.budget.steps[-1].text == "reduced to 19.60 (goodwill limit 100.00 in 90 days, 80.40 (12000 JPY × 0.0067) already given)"


def test_the_policys_own_currency_is_taken_as_it_is() -> None:
    assert POLICY.decide({"severity": "low", "order": {"amount": "320.50", "currency": "USD"}}).budget.amount == Decimal("32.05")


@pytest.mark.parametrize(("value", "code"), [
    ({"amount": "320.50", "currency": "GBP"}, "currency"),
    ({"amount": "320.50"}, "wrong_type"),
    ({"amount": "320.50", "currency": "EUR", "note": 1}, "wrong_type"),
    ({"amount": "-1", "currency": "EUR"}, "out_of_range"),
    ({"amount": True, "currency": "EUR"}, "wrong_type"),
    ({"amount": {"amount": 1, "currency": "EUR"}, "currency": "EUR"}, "wrong_type"),
])
def test_money_that_cannot_be_read_or_converted_is_refused(value: Any, code: str) -> None:
    with pytest.raises(ComplaintError) as info:
        POLICY.decide({"severity": "low", "order": value})
    assert [(p.field, p.code) for p in info.value.problems] == [("order", code)]


@pytest.mark.parametrize(("rates", "where"), [({"EUX": 1}, "exchange_rates.EUX"), ({"USD": 1}, "exchange_rates.USD"),
                                              ({"EUR": 0}, "exchange_rates.EUR")])
def test_bad_exchange_rates_are_located(rates: Any, where: str) -> None:
    with pytest.raises(PolicyError) as info:
        make_policy(facts=FACTS, rules=RULES, exchange_rates=rates)
    assert [(p.path, p.code) for p in info.value.problems] == [(where, "currency")]


def test_the_command_line_takes_an_amount_with_its_currency(tmp_path: Any) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(policy_text(facts=FACTS, rules=RULES, exchange_rates={"EUR": 1.08}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["decide", "-p", str(path), "--severity", "low", "--order", "320.50 EUR", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["budget"]["amount"] == "34.61"


def test_the_complaint_schema_takes_an_amount_with_a_currency_the_policy_converts() -> None:
    schema = Draft202012Validator(json.loads(schema_text("complaint", POLICY)))
    assert schema.is_valid({"severity": "low", "order": {"amount": "320.50", "currency": "EUR"}})
    assert not schema.is_valid({"severity": "low", "order": {"amount": "320.50", "currency": "GBP"}})
