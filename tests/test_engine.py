"""The library surface: decide, decide_many, determinism, immutability, complaint errors, directories."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

import gesture_engine
from gesture_engine import ComplaintError, Decision, Policy, PolicyError, load_policy, loads_policy
from tests.conftest import MINIMAL, make_policy, policy_text


def test_public_surface_is_deliberate() -> None:
    for name in gesture_engine.__all__:
        assert hasattr(gesture_engine, name)
    assert {"load_policy", "Policy", "Decision", "PolicyError", "ComplaintError"} <= set(gesture_engine.__all__)


def test_three_line_integration() -> None:
    policy = load_policy()
    decision = policy.decide({"severity": "high", "channel": "social_media", "audience": 120000})
    assert isinstance(decision, Decision)
    assert decision.action == "personal_outreach"


def test_same_input_gives_byte_identical_json(default_policy: Policy) -> None:
    complaint = {"severity": "critical", "channel": "press", "audience": 70000, "customer_value": "1234.56",
                 "complaint_id": "T-1", "customer_id": 42, "received_at": "2026-11-23T09:30:00+01:00"}
    first = default_policy.decide(complaint).model_dump_json()
    again = load_policy().decide(dict(reversed(list(complaint.items())))).model_dump_json()
    assert first == again


def test_envelope_is_echoed_and_sets_respond_by(default_policy: Policy) -> None:
    d = default_policy.decide({"severity": "high", "channel": "email", "complaint_id": "C-9", "customer_id": 7,
                               "received_at": "2026-11-23T09:30:00Z"})
    assert (d.complaint_id, d.customer_id) == ("C-9", "7")
    assert d.respond_by is not None and d.respond_by.isoformat() == "2026-11-23T13:30:00+00:00"
    assert '"respond_by":"2026-11-23T13:30:00Z"' in d.model_dump_json()


def test_decision_carries_policy_identity_and_trace(default_policy: Policy) -> None:
    d = default_policy.decide({"severity": "high", "channel": "email"})
    assert d.policy.name == "default" and len(d.policy.fingerprint) == 64
    assert [(t.rule, t.hit, t.fired) for t in d.trace] == [("serious-failure", "first", True), ("remember-when", "collect", True)]
    assert d.trace[0].reads == ("severity",)
    assert d.trace[1].reads == ("severity", "issue_type")
    assert d.facts["tier"] == "standard" and d.facts["visibility"] == "private"


def test_full_trace_lists_every_rule_evaluated(default_policy: Policy) -> None:
    d = default_policy.decide({"severity": "high", "channel": "email"}, full_trace=True)
    evaluated = [(t.rule, t.fired) for t in d.trace]
    assert evaluated[:4] == [("staff-misconduct", False), ("public-crisis", False), ("out-of-stock", False), ("serious-failure", True)]
    assert ("remember-when", True) in evaluated and ("viral-urgency", False) in evaluated
    assert len(evaluated) == 4 + 6  # first-hit rules up to the winner, then every add-on
    low = default_policy.decide({"severity": "low", "channel": "email"}, full_trace=True)
    assert [t.rule for t in low.trace if t.hit != "collect"][-1] == "apologise-and-fix"
    assert d.model_copy(update={"trace": ()}) == default_policy.decide({"severity": "high", "channel": "email"}).model_copy(update={"trace": ()})


def test_decision_is_frozen(default_policy: Policy) -> None:
    d = default_policy.decide({"severity": "low", "channel": "email"})
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError for frozen models
        d.action = "refund"  # type: ignore[misc]


def test_policy_is_immutable(default_policy: Policy) -> None:
    with pytest.raises(AttributeError):
        default_policy._c = None  # type: ignore[misc]


def test_complaint_errors_list_every_problem(default_policy: Policy) -> None:
    with pytest.raises(ComplaintError) as info:
        default_policy.decide({"severity": "hgh", "audience": True, "customer_value": -5, "chanel": "email", "tier": "gold"})
    fields = {p.field: p.message for p in info.value.problems}
    assert set(fields) == {"severity", "channel", "audience", "customer_value", "chanel", "tier"}
    assert "did you mean 'high'" in fields["severity"]
    assert "is required" in fields["channel"]
    assert "expected an integer; got true" in fields["audience"]
    assert "≥ 0" in fields["customer_value"]
    assert "did you mean 'channel'" in fields["chanel"]
    assert "derived" in fields["tier"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [("12.50", True), (12, True), (Decimal("0.1"), True), (12.5, True), ("12", True), ("1e3", False), ("-1", False),
     (float("nan"), False), (float("inf"), False), (Decimal("1E+309"), False), ("1" * 30, False), (True, False), ([1], False)],
)
def test_money_accepts_numbers_and_decimal_strings_only(default_policy: Policy, value: object, ok: bool) -> None:
    complaint = {"severity": "low", "channel": "email", "customer_value": value}
    if ok:
        assert default_policy.decide(complaint).facts["customer_value"] == Decimal(str(value))
    else:
        with pytest.raises(ComplaintError, match="customer_value"):
            default_policy.decide(complaint)


def test_non_mapping_complaint_is_an_error(default_policy: Policy) -> None:
    with pytest.raises(ComplaintError, match="expected an object"):
        default_policy.decide(["severity", "high"])  # type: ignore[arg-type]


def test_decide_many_is_lazy_ordered_and_can_return_errors(default_policy: Policy) -> None:
    complaints = [{"severity": "low", "channel": "email", "complaint_id": str(i)} for i in range(3)]
    complaints.insert(1, {"severity": "nope"})
    results = list(default_policy.decide_many(complaints, return_exceptions=True))
    assert isinstance(results[1], ComplaintError)
    assert [r.complaint_id for r in results if isinstance(r, Decision)] == ["0", "1", "2"]
    with pytest.raises(ComplaintError):
        list(default_policy.decide_many(complaints))


def test_complaint_from_text_types_cli_values(default_policy: Policy) -> None:
    complaint = default_policy.complaint_from_text({"severity": "high", "audience": "120000", "customer-value": "10.5"})
    assert complaint == {"severity": "high", "audience": 120000, "customer_value": "10.5"}


def test_directory_policy_merges_files_in_name_order(tmp_path: Path) -> None:
    head, _, rules = MINIMAL.partition("rules:\n")
    (tmp_path / "00-policy.yaml").write_text(head, encoding="utf-8")
    first, _, second = rules.partition("  - id: fallback\n")
    (tmp_path / "20-fallback.yaml").write_text("rules:\n  - id: fallback\n" + second, encoding="utf-8")
    (tmp_path / "10-high.yaml").write_text("rules:\n" + first, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "ignored.yaml").write_text("not: a policy", encoding="utf-8")
    policy = load_policy(tmp_path)
    assert [r.id for r in policy.rules] == ["high", "fallback"]
    single = tmp_path / "single.yaml"
    single.write_text(MINIMAL, encoding="utf-8")
    assert load_policy(single).fingerprint == policy.fingerprint


def test_fingerprint_ignores_formatting_but_not_meaning(write_policy: Callable[..., Path]) -> None:
    original = load_policy(write_policy(MINIMAL, "a.yaml")).fingerprint
    reformatted = "# a comment\n" + MINIMAL.replace("budget_cap: 100\n", "").replace("currency: USD\n", "currency: USD\nbudget_cap:   100\n")
    assert load_policy(write_policy(reformatted, "b.yaml")).fingerprint == original
    changed = MINIMAL.replace("budget: 40", "budget: 41")
    assert load_policy(write_policy(changed, "c.yaml")).fingerprint != original


def test_rationale_interpolates_facts_without_format_tricks(write_policy: Callable[..., Path]) -> None:
    text = MINIMAL.replace("respond_within: 2h\n", "respond_within: 2h\n      rationale: '{{literal}} {severity} on {channel} spent {spend}'\n")
    policy = load_policy(write_policy(text))
    d = policy.decide({"severity": "high", "spend": "3.5"})
    assert d.reasons == ("{literal} high on email spent 3.5",)


def test_zero_decimal_currency_rounds_to_whole_units(write_policy: Callable[..., Path]) -> None:
    text = MINIMAL.replace("currency: USD", "currency: JPY").replace("budget: 40", "budget: 40.6")
    d = load_policy(write_policy(text)).decide({"severity": "high"})
    assert str(d.budget.amount) == "41" and d.budget.currency == "JPY"


def test_equal_but_differently_written_amounts_are_shown_as_written(default_policy: Policy) -> None:
    base = {"severity": "high", "channel": "email", "customer_value": 3000}
    first = default_policy.decide({**base, "order_value": "80"})
    second = default_policy.decide({**base, "order_value": "80.00"})
    assert "10% of order_value 80)" in first.budget.summary
    assert "10% of order_value 80.00)" in second.budget.summary
    fresh = load_policy().decide({**base, "order_value": "80.00"})
    assert fresh.model_dump_json() == second.model_dump_json()


def test_nothing_to_spend_offers_no_monetary_gesture(write_policy: Callable[..., Path]) -> None:
    """A credit of 0.00 is not a gesture: it is dropped, and the reasons say why."""
    policy = load_policy(write_policy(MINIMAL.replace("budget: 40", "budget: 0")))
    decision = policy.decide({"severity": "high"})
    assert [g.id for g in decision.gestures] == ["apology"]
    assert decision.reasons[-1] == "the budget is 0.00: Credit not offered"
    paid = load_policy(write_policy(MINIMAL)).decide({"severity": "high"})
    assert [g.id for g in paid.gestures] == ["apology", "credit"] and paid.reasons == ("rule high applies",)


def test_a_signalling_nan_number_is_refused_not_raised() -> None:
    policy = make_policy(facts={"severity": {"type": "level", "values": ["low", "high"], "required": True},
                                "score": {"type": "number", "default": 0}}, rules=[
        {"id": "fallback", "default": True, "then": {"action": "sorry", "respond_within": "1d"}}])
    with pytest.raises(ComplaintError) as info:
        policy.decide({"severity": "low", "score": Decimal("sNaN")})
    assert [(p.field, p.code) for p in info.value.problems] == [("score", "out_of_range")]


def test_approval_and_deadlines_may_be_left_out() -> None:
    """A policy with no use for approvals or deadlines leaves them out and gets the documented defaults."""
    text = policy_text(rules=[{"id": "high", "when": {"severity": "high"}, "then": {"action": "pay", "gestures": ["credit"], "budget": 40}},
                              {"id": "fallback", "default": True, "then": {"action": "sorry"}}])
    ladder = "approval:\n  levels:\n  - agent\n  - manager\n  ladder:\n  - up_to: 50\n    level: agent\n  - level: manager\n"
    assert ladder in text
    policy = loads_policy(text.replace(ladder, ""))
    decision = policy.decide({"severity": "high"})
    assert (decision.approval.level, decision.respond_within) == ("agent", "1d")
    assert decision.approval.reasons == ("budget 40.00 USD: agent approves every budget (the ladder has one row)",)
    faster = loads_policy(text.replace("rules:", "respond_within: 4h\nrules:"))
    assert faster.decide({"severity": "low"}).respond_within == "4h"
    with pytest.raises(PolicyError) as info:
        loads_policy(text.replace("rules:", "respond_within: 0m\nrules:"))
    assert [(p.path, p.code) for p in info.value.problems] == [("respond_within", "duration")]


def test_numbers_are_held_and_shown_exactly_as_given() -> None:
    """2.9999999 is not 3, and 3500.001 km is not 3500: in the decision, its reasons and explain."""
    policy = make_policy(facts={"severity": {"type": "level", "values": ["low", "high"], "required": True},
                                "km": {"type": "number", "default": 0}}, rules=[
        {"id": "far", "when": {"km": {"gte": 3}}, "then": {"action": "pay", "rationale": "{km} km is far"}},
        {"id": "fallback", "default": True, "then": {"action": "sorry", "rationale": "{km} km is near"}}])
    near = policy.decide({"severity": "low", "km": Decimal("2.9999999")})
    assert (near.rule, near.reasons, near.facts["km"]) == ("fallback", ("2.9999999 km is near",), Decimal("2.9999999"))
    assert policy.explain({"severity": "low", "km": Decimal("2.9999999")}).rules[0].note == "km gte 3: actual 2.9999999"
    assert policy.decide({"severity": "low", "km": 3500.001}).reasons == ("3500.001 km is far",)
    assert json.loads(near.model_dump_json())["facts"]["km"] == "2.9999999"
