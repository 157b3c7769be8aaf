"""Owed amounts: what a gesture owes (a refund, a statutory sum), listed apart from the budget and never capped."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from gesture_engine import Decision, PolicyError
from gesture_engine.tools import PolicyTestError, diff_policies, load_suite, run_suite
from tests.conftest import make_policy

FACTS = {
    "severity": {"type": "level", "values": ["low", "high"], "required": True},
    "paid": {"type": "money", "default": 0},
    "given": {"type": "money", "default": 0},
    "visits": {"type": "integer", "default": 0},
}
GESTURES = {"apology": {"label": "Apology"}, "refund": {"label": "Refund"}, "voucher": {"label": "Voucher"},
            "credit": {"label": "Credit", "monetary": True}}


def owing(first: Any, add_on: Any = None) -> Any:
    rules = [{"id": "high", "when": {"severity": "high"},
              "then": {"action": "pay", "gestures": ["apology", "refund", "credit"], "budget": 80, "owed": first}}]
    if add_on is not None:
        rules.append({"id": "extra", "collect": True, "when": {"paid": {"gt": 0}}, "then": {"gestures": ["refund", "voucher"], "owed": add_on}})
    rules.append({"id": "fallback", "default": True, "then": {"action": "sorry", "gestures": ["apology"]}})
    return make_policy(facts=FACTS, gestures=GESTURES, rules=rules, budget_cap=50,
                       goodwill={"fact": "given", "window_limit": 100, "window": "90 days"})


def test_an_owed_share_of_a_fact_is_listed_apart_and_never_capped() -> None:
    decision = owing({"refund": {"fact": "paid", "percent": 50}}).decide({"severity": "high", "paid": "321.25", "given": 100})
    assert decision.budget.amount == Decimal("0.00")  # the goodwill window is used up and the cap is 50 ...
    [owed] = decision.owed  # ... but what is owed is owed in full
    assert (owed.gesture, owed.amount, owed.currency, owed.text) == ("refund", Decimal("160.63"), "USD", "50% of paid 321.25 = 160.63")
    assert "refund" in [g.id for g in decision.gestures]
    assert Decision.model_validate_json(decision.model_dump_json()) == decision


def test_fixed_sums_and_whole_facts_and_the_first_rule_naming_a_gesture_wins() -> None:
    policy = owing({"refund": {"fact": "paid"}}, {"refund": 999, "voucher": 15})
    owed = policy.decide({"severity": "high", "paid": 40}).owed
    assert [(o.gesture, o.amount, o.text) for o in owed] == [("refund", Decimal("40.00"), "paid 40"), ("voucher", Decimal("15.00"), "fixed 15.00")]
    assert policy.decide({"severity": "low"}).owed == ()


@pytest.mark.parametrize(("owed", "where", "code"), [
    ({"voucher": 5}, "rules[0].then.owed.voucher", "owed"),
    ({"refund": {"fact": "paidd"}}, "rules[0].then.owed.refund.fact", "unknown-fact"),
    ({"refund": {"fact": "visits"}}, "rules[0].then.owed.refund.fact", "type-mismatch"),
])
def test_a_bad_owed_amount_is_located(owed: Any, where: str, code: str) -> None:
    with pytest.raises(PolicyError) as info:
        owing(owed)
    assert [(p.path, p.code) for p in info.value.problems] == [(where, code)]


def test_diff_shows_a_changed_owed_amount() -> None:
    before, after = owing({"refund": {"fact": "paid"}}), owing({"refund": {"fact": "paid", "percent": 50}})
    [change] = [c for c in diff_policies(before, after).changes if (c.section, c.id) == ("rule", "high")]
    assert [(f.field, f.old, f.new) for f in change.fields] == [("owed.refund", "100% of paid", "50% of paid")]


def test_policy_tests_check_owed_amounts_exactly(tmp_path: Path) -> None:
    policy = owing({"refund": {"fact": "paid"}})
    tests = tmp_path / "t.yaml"
    tests.write_text(dedent("""\
        cases:
          - name: the refund is what was paid
            complaint: {severity: high, paid: 12.50}
            expect: {owed: {refund: 12.50}}
          - name: a wrong amount and a promise that nothing is owed
            complaint: {severity: high, paid: 12.50}
            expect: {owed: {refund: 12.5001}}
          - name: nothing owed
            complaint: {severity: low}
            expect: {owed: {}}
    """), encoding="utf-8")
    result = run_suite(policy, load_suite(policy, [tests]))
    assert [c.passed for c in result.cases] == [True, False, True]
    assert [str(m) for m in result.cases[1].mismatches] == ["owed: expected refund 12.5001, got refund 12.50"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {owed: {refund: -1, nope: 1}}\n", encoding="utf-8")
    with pytest.raises(PolicyTestError) as info:
        load_suite(policy, [bad])
    assert [(p.path, p.code) for p in info.value.problems] == [("cases[0].expect.owed.refund", "type-mismatch"),
                                                               ("cases[0].expect.owed.nope", "unknown-gesture")]
