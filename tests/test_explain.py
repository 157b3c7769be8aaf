"""gesture_engine.tools.explain and ``gesture explain``: the story behind a decision, which must match it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import ComplaintError, Policy, load_policy
from gesture_engine.tools.explain import Explanation, blame, describe, failure
from tests.conftest import MINIMAL, facts_of

SEVERITIES = ("low", "medium", "high", "critical")
CHANNELS = ("email", "app_review", "social_media", "press")  # phone and chat act like email
ISSUES = ("service_failure", "product_defect", "delivery_delay", "out_of_stock", "billing_error", "staff_misconduct", "other")


def grid() -> list[dict[str, object]]:
    """A spread of complaints touching every rule, table row and default of the default policy."""
    return [
        {"severity": s, "channel": c, "issue_type": i, "audience": a, "customer_value": v, "order_value": 250, "goodwill_last_90d": g}
        for s, c, i, a, v, g in itertools.product(SEVERITIES, CHANNELS, ISSUES, (0, 10000), (0, 600, 3000, 20000), (0, 990))
    ]


def test_explain_agrees_with_decide_over_many_complaints(default_policy: Policy) -> None:
    complaints = grid()
    assert len(complaints) > 1500
    winners = set()
    for complaint in complaints:
        decision = default_policy.decide(complaint)
        why = default_policy.explain(complaint)
        winners.add(why.rule)
        assert why.rule == decision.rule, complaint
        assert why.action == decision.action
        fired = [r.rule for r in why.rules if r.status == "fired"]
        assert fired == [t.rule for t in decision.trace if t.fired], complaint
        first = [r.id for r in default_policy.rules if r.hit == "first"]
        reached = first[: first.index(why.rule) + 1] if why.rule in first else [*first, why.rule]
        evaluated = [r.rule for r in why.rules if r.status != "not_evaluated"]
        assert evaluated == reached + [r.id for r in default_policy.rules if r.hit == "collect"], complaint
        assert [a.rule for a in why.add_ons] == [r for r in fired if r != why.rule]
        assert {d.fact: d.value for d in why.derived} == {name: decision.facts[name] for name in ("tier", "visibility")}
    assert winners == {r.id for r in default_policy.rules if r.hit != "collect"}


def test_a_rule_that_did_not_fire_names_its_first_failed_condition(default_policy: Policy) -> None:
    why = default_policy.explain({"severity": "medium", "channel": "email"})
    notes = {r.rule: r.note for r in why.rules}
    assert notes["serious-failure"] == "severity at_least high: actual medium"
    assert notes["public-crisis"] == "visibility eq viral: actual private"
    assert notes["remember-when"] == "severity at_least high: actual medium"
    serious = next(r for r in why.rules if r.rule == "serious-failure")
    assert serious.failed is not None
    assert (serious.failed.fact, serious.failed.op, serious.failed.expected, serious.failed.actual) == ("severity", "at_least", "high", "medium")
    assert serious.facts == {"severity": "medium"}


def test_first_hit_rules_after_the_winner_are_not_evaluated(default_policy: Policy) -> None:
    why = default_policy.explain({"severity": "high", "channel": "press", "audience": 50000})
    assert why.rule == "public-crisis"
    status = {r.rule: r.status for r in why.rules}
    assert status["staff-misconduct"] == "not_fired"
    for later in ("out-of-stock", "serious-failure", "goodwill-credit", "apologise-and-fix"):
        assert status[later] == "not_evaluated"
        assert next(r.note for r in why.rules if r.rule == later) == "not evaluated (an earlier rule matched)"
    assert [r.rule for r in why.rules][-6:] == [r.id for r in default_policy.rules if r.hit == "collect"]


def test_derived_facts_show_the_matching_row_or_the_default(default_policy: Policy) -> None:
    why = default_policy.explain({"severity": "low", "channel": "app_review", "audience": 20, "customer_value": 3000})
    tier, visibility = why.derived
    assert (tier.fact, tier.value, tier.source, tier.row) == ("tier", "gold", "row 2", 1)
    assert [r.status for r in tier.rows] == ["not_matched", "matched", "not_evaluated"]
    assert tier.rows[0].failed is not None and tier.rows[0].failed.text == "customer_value gte 10000: actual 3000"
    assert (visibility.value, visibility.source) == ("public", "row 2")
    assert visibility.rows[0].failed is not None and visibility.rows[0].failed.text == "audience gte 10000: actual 20"
    plain = default_policy.explain({"severity": "low", "channel": "email"})
    assert (plain.derived[0].value, plain.derived[0].source, plain.derived[0].row) == ("standard", "default", None)
    assert "customer_value" in plain.defaulted and "severity" not in plain.defaulted


def test_add_ons_budget_steps_and_approval_come_from_the_decision(default_policy: Policy) -> None:
    complaint = {"severity": "critical", "channel": "email", "issue_type": "billing_error", "goodwill_last_90d": 950}
    why = default_policy.explain(complaint)
    decision = default_policy.decide(complaint)
    assert [(a.rule, a.gestures, a.respond_within, a.approval) for a in why.add_ons] == [
        ("remember-when", ("remember_when_followup",), None, None),
        ("critical-escalation", (), "2h", "manager"),
        ("billing-refund", ("refund",), None, None),
    ]
    assert why.budget_steps == decision.budget.steps and why.budget_steps[-1].kind == "goodwill"
    assert why.budget.amount == decision.budget.amount
    assert why.approval == decision.approval and why.approval.level == "manager"
    assert why.reasons == decision.reasons


def test_explanation_is_frozen_and_its_json_deterministic(default_policy: Policy) -> None:
    complaint = {"severity": "high", "channel": "social_media", "audience": 120000, "customer_value": "3000.50"}
    why = default_policy.explain(complaint)
    with pytest.raises(pydantic.ValidationError):
        why.rule = "other"
    text = why.model_dump_json()
    assert text == default_policy.explain(complaint).model_dump_json()
    assert json.loads(text)["input_facts"]["customer_value"] == "3000.50"
    assert isinstance(why, Explanation)


def test_a_bad_complaint_raises_like_decide(default_policy: Policy) -> None:
    with pytest.raises(ComplaintError) as caught:
        default_policy.explain({"severity": "huge"})
    assert {p.field for p in caught.value.problems} == {"severity", "channel"}


NEGATED = """\
policy: negated
version: "1"
currency: USD
budget_cap: 100
facts:
  severity: {type: level, values: [low, medium, high], required: true}
  channel: {type: enum, values: [email, phone, social], default: email}
gestures:
  apology: {label: Apology}
actions:
  sorry: {label: Say sorry}
approval:
  levels: [agent]
  ladder:
    - {level: agent}
rules:
  - id: quiet-channels-only
    when:
      severity: {at_least: medium}
      not: {any: [{channel: email}, {channel: phone}]}
    then: {action: sorry, respond_within: 1h}
  - id: fallback
    default: true
    then: {action: sorry, respond_within: 1d}
"""


def test_a_condition_under_not_is_blamed_for_holding(write_policy: Callable[..., Path]) -> None:
    policy = load_policy(write_policy(NEGATED))
    rule = policy.rules[0]
    assert describe(rule.when) == "severity at_least medium and not (channel eq email or channel eq phone)"
    why = policy.explain({"severity": "high", "channel": "phone"})
    first = why.rules[0]
    assert first.status == "not_fired" and first.failed is not None
    # the part that held is channel eq phone, not channel eq email
    assert first.note == "not (channel eq phone): actual phone"
    assert first.failed.negated and first.failed.expected == "phone"
    assert policy.explain({"severity": "low", "channel": "social"}).rules[0].note == "severity at_least medium: actual low"
    assert policy.explain({"severity": "high", "channel": "social"}).rule == "quiet-channels-only"


def test_without_not_the_blamed_test_is_conditions_first_failure(default_policy: Policy) -> None:
    for complaint in grid()[::7]:
        facts = facts_of(default_policy, complaint)
        for rule in default_policy.rules:
            found = blame(rule.when, facts)
            expected = rule.when.first_failure(facts)
            assert (found[0] if found else None) is expected
            reason = failure(rule.when, facts)
            assert (reason is None) == rule.when.holds(facts)


# -- the command ---------------------------------------------------------------------------------
def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_explain_prints_each_rule_with_its_reason() -> None:
    code, out, _ = run("explain", "--severity", "medium", "--channel", "email")
    assert code == 0
    assert "serious-failure" in out and "severity at_least high: actual medium" in out
    assert "fired: chooses goodwill_credit" in out
    assert "not evaluated (an earlier rule matched)" in out
    assert "no row matched: default" in out
    assert "base 25.00 (severity medium)" in out and "agent" in out


def test_cli_explain_json_takes_the_same_inputs_as_decide(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"severity": "low", "channel": "press", "complaint_id": "C-9"}), encoding="utf-8")
    code, out, _ = run("explain", str(path), "--set", "audience=20000", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["complaint_id"] == "C-9" and data["input_facts"]["audience"] == 20000
    assert data["rule"] == "goodwill-credit" and data["derived"][1]["value"] == "viral"
    code, out, _ = run("explain", "-", "--json", stdin='{"severity": "high", "channel": "email"}')
    assert code == 0 and json.loads(out)["rule"] == "serious-failure"


def test_cli_explain_reports_bad_complaints_and_policies(write_policy: Callable[..., Path]) -> None:
    code, _, err = run("explain", "--severity", "huge", "--channel", "email")
    assert code == 3 and "severity" in err and "Traceback" not in err
    broken = write_policy(MINIMAL.replace("gestures: [apology, credit]", "gestures: [apology, gift]"))
    code, _, err = run("explain", "--policy", str(broken), "--severity", "low")
    assert code == 4 and "unknown gesture 'gift'" in err
