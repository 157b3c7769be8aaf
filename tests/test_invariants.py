"""Policies declare monotonicity invariants; check_invariants finds a counterexample when one is broken."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gesture_engine import Policy, PolicyError, load_policy
from gesture_engine.tools.invariants import check_invariants, fact_domains

POLICY = """\
policy: tiny
version: "1"
currency: USD
budget_cap: 500
goodwill: {fact: given, window_limit: 300}
facts:
  severity: {type: level, values: [low, medium, high], required: true}
  channel: {type: enum, values: [email, social], default: email}
  spend: {type: money, default: 0}
  given: {type: money, default: 0}
  followers: {type: integer, min: 0, default: 0}
gestures:
  credit: {label: Credit, monetary: true}
actions:
  pay: {label: Pay}
approval:
  levels: [agent]
  ladder:
    - {level: agent}
rules:
  - id: big-spender
    when: {spend: {gte: 1000}}
    then: {action: pay, gestures: [credit], budget: {base: {by: severity, values: {low: 20, medium: 40, high: 80}}}, respond_within: 1h}
  - id: by-severity
    then: {action: pay, gestures: [credit], budget: {base: {by: severity, values: {low: 10, medium: 20, high: 30}}}, respond_within: 1d}
    default: true
invariants:
  - {monotone: budget, in: severity}
  - {monotone: budget, in: spend}
  - {monotone: budget, in: given, direction: decreasing}
  - {monotone: budget, in: followers}
"""


def _load(write_policy: Callable[..., Path], text: str) -> Policy:
    return load_policy(write_policy(text))


def test_default_policy_declares_and_keeps_its_invariants(default_policy: Policy) -> None:
    declared = [(i.fact, i.direction) for i in default_policy.compiled.invariants]
    assert declared == [("severity", "increasing"), ("customer_value", "increasing"), ("audience", "increasing"),
                        ("goodwill_last_90d", "decreasing")]
    assert check_invariants(default_policy, max_cases=1500, samples=50) == []


def test_a_sound_policy_has_no_counterexample(write_policy: Callable[..., Path]) -> None:
    assert check_invariants(_load(write_policy, POLICY)) == []


def test_broken_level_order_is_reported_as_an_adjacent_pair(write_policy: Callable[..., Path]) -> None:
    policy = _load(write_policy, POLICY.replace("{low: 10, medium: 20, high: 30}", "{low: 10, medium: 25, high: 15}"))
    [example] = check_invariants(policy)
    assert example.invariant.fact == "severity"
    assert (example.lower["severity"], example.higher["severity"]) == ("medium", "high")
    assert str(example.lower_budget) == "25.00" and str(example.higher_budget) == "15.00"
    assert {k: v for k, v in example.lower.items() if k != "severity"} == {k: v for k, v in example.higher.items() if k != "severity"}
    text = str(example)
    assert "budget is monotone increasing in severity is broken: severity=medium gives 25.00 but severity=high gives 15.00" in text
    assert text.startswith(f"{policy.source}:")
    assert example.to_dict()["lower_budget"] == "25.00"


def test_a_threshold_that_lowers_the_budget_is_found_at_its_edge(write_policy: Callable[..., Path]) -> None:
    policy = _load(write_policy, POLICY.replace("{low: 20, medium: 40, high: 80}", "{low: 5, medium: 5, high: 5}"))
    [example] = check_invariants(policy)
    assert example.invariant.fact == "spend"
    assert (str(example.lower["spend"]), str(example.higher["spend"])) == ("999.99", "1000")
    assert example.higher_budget < example.lower_budget


def test_decreasing_direction_is_checked(write_policy: Callable[..., Path]) -> None:
    text = POLICY.replace("  - id: big-spender\n    when: {spend: {gte: 1000}}", "  - id: big-spender\n    when: {given: {gte: 100}}")
    text = text.replace("goodwill: {fact: given, window_limit: 300}\n", "")
    [example] = check_invariants(_load(write_policy, text))
    assert example.invariant.direction == "decreasing"
    assert (str(example.lower["given"]), str(example.higher["given"])) == ("99.99", "100")
    assert example.higher_budget > example.lower_budget


def test_the_search_is_deterministic_and_callers_may_pass_invariants(write_policy: Callable[..., Path]) -> None:
    policy = _load(write_policy, POLICY.replace("{low: 10, medium: 20, high: 30}", "{low: 10, medium: 25, high: 15}"))
    first = check_invariants(policy, max_cases=50, samples=20, seed=7)
    assert first == check_invariants(policy, max_cases=50, samples=20, seed=7)
    only_spend = [i for i in policy.compiled.invariants if i.fact == "spend"]
    assert check_invariants(policy, only_spend) == []


def test_boundary_values_come_from_the_policy(write_policy: Callable[..., Path]) -> None:
    domains = fact_domains(_load(write_policy, POLICY))
    assert domains["severity"] == ("low", "medium", "high")
    assert [str(v) for v in domains["spend"]] == ["0", "999.99", "1000", "1000.01"]
    assert [str(v) for v in domains["given"]] == ["0", "150", "299.99", "300", "300.01"]


@pytest.mark.parametrize(
    ("invariant", "expected"),
    [
        ("{monotone: budget, in: sevrity}", "invariants[0].in: unknown input fact 'sevrity' (did you mean 'severity'?)"),
        ("{monotone: budget, in: channel}", "invariants[0].in: channel is enum, which has no order"),
        ("{monotone: budget, in: severity, direction: up}", "invariants[0].direction: expected one of increasing, decreasing"),
        ("{monotone: approval, in: severity}", "invariants[0].monotone: expected one of budget"),
        ("{in: severity}", "invariants[0]: missing required key 'monotone'"),
    ],
)
def test_bad_invariants_are_located_errors(write_policy: Callable[..., Path], invariant: str, expected: str) -> None:
    text = POLICY.split("invariants:")[0] + f"invariants:\n  - {invariant}\n"
    path = write_policy(text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    [problem] = info.value.problems
    assert expected in str(problem)
    assert (problem.file, problem.line) == (str(path), 28)


def test_a_derived_fact_is_not_an_input(default_policy: Policy, tmp_path: Path) -> None:
    source = Path(default_policy.source)
    for file in source.glob("*.yaml"):
        (tmp_path / file.name).write_text(file.read_text(encoding="utf-8"), encoding="utf-8")
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(policy_file.read_text(encoding="utf-8").replace("in: audience,", "in: visibility,"), encoding="utf-8")
    with pytest.raises(PolicyError, match="unknown input fact 'visibility' \\(a derived fact; name the input facts it comes from\\)"):
        load_policy(tmp_path)
