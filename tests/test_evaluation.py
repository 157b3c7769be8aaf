"""The evaluator's trace (gesture_engine/evaluation.py) against ``decide``, which matches through the
bitset index: on random policies and complaints, explain, coverage and ``full_trace`` (all readers of
the trace) name the rule and add-ons ``decide`` chose.

Policies are generated as YAML and loaded with ``load_policy``: facts of every type, two derived
tables (the second reading the first), first-hit, add-on and default rules whose conditions nest
``all``/``any``/``not``. Numbers are drawn on and beside a few shared thresholds, where a mistake in
either path would show. Profiles as in test_properties.py (GESTURE_PROPERTIES_PROFILE).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from gesture_engine import Policy, load_policy
from gesture_engine.engine import evaluation as evaluation_module
from gesture_engine.engine.conditions import Group
from gesture_engine.engine.evaluation import blame, branch_parts, check, evaluate
from gesture_engine.tools.coverage import coverage_of
from tests.conftest import facts_of

settings.register_profile("evaluation", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("evaluation-thorough", parent=settings.get_profile("evaluation"), max_examples=1000)
PROFILE = settings.get_profile("evaluation-thorough" if os.environ.get("GESTURE_PROPERTIES_PROFILE") == "properties-thorough" else "evaluation")

LEVELS = ["l0", "l1", "l2", "l3"]
KINDS = ["k0", "k1", "k2"]
BANDS = ["lo", "mid", "hi"]
TAGS = ["vip", "press"]
AMOUNTS = [Decimal(0), Decimal("9.99"), Decimal(10), Decimal("250.50"), Decimal(1000)]
COUNTS = [0, 5, 10, 100]
RATIOS = [-2.5, 0.0, 1.5, 40.0]


# -- generated policies ---------------------------------------------------------------------------
def _operand(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


def _leaf(bands: bool) -> st.SearchStrategy[dict[str, Any]]:
    """One fact compared with one operand, for every fact type and operator."""
    money, counts, ratios = _operand(AMOUNTS), _operand(COUNTS), _operand(RATIOS)
    leaves = [
        st.tuples(st.sampled_from(["eq", "ne", "at_least", "at_most"]), _operand(LEVELS)).map(lambda t: {"sev": {t[0]: t[1]}}),
        st.sampled_from(LEVELS).map(lambda v: {"sev": v}),
        st.tuples(st.sampled_from(["in", "not_in"]), st.lists(_operand(KINDS), min_size=1, max_size=2, unique=True)).map(
            lambda t: {"kind": {t[0]: t[1]}}),
        st.tuples(st.sampled_from(["gt", "gte", "lt", "lte", "eq", "ne"]), money).map(lambda t: {"amt": {t[0]: t[1]}}),
        st.lists(money, min_size=2, max_size=2).map(lambda ab: {"amt": {"between": sorted(ab)}}),
        st.tuples(money, money).map(lambda ab: {"amt": {"gte": min(ab), "lt": max(ab)}}),
        st.tuples(st.sampled_from(["gt", "gte", "lt", "lte", "eq", "in", "not_in"]), counts, counts).map(
            lambda t: {"cnt": {t[0]: sorted({t[1], t[2]}) if t[0].endswith("in") else t[1]}}),
        st.tuples(st.sampled_from(["gt", "lte", "ne"]), ratios).map(lambda t: {"ratio": {t[0]: t[1]}}),
        st.booleans().map(lambda b: {"flag": b}),
        st.tuples(st.sampled_from(["eq", "ne", "in"]), _operand(TAGS)).map(lambda t: {"tag": {t[0]: [t[1]] if t[0] == "in" else t[1]}}),
    ]
    if bands:
        leaves.append(st.tuples(st.sampled_from(["at_least", "eq", "ne"]), _operand(BANDS)).map(lambda t: {"band": {t[0]: t[1]}}))
    return st.one_of(leaves)


def _conditions(bands: bool) -> st.SearchStrategy[dict[str, Any]]:
    leaf = _leaf(bands)
    return st.recursive(
        st.one_of(leaf, st.lists(leaf, min_size=2, max_size=3).map(lambda parts: {k: v for part in parts for k, v in part.items()})),  # keys: all
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"all": parts}),
            st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"any": parts}),
            inner.map(lambda part: {"not": part}),
        ),
        max_leaves=8,
    )


CONDITIONS = _conditions(bands=True)
INPUT_CONDITIONS = _conditions(bands=False)
"""Conditions over every fact, and over input facts only (for the first derived table)."""


@st.composite
def policy_data(draw: st.DrawFn) -> dict[str, Any]:
    first = [{"id": f"r{i}", "when": draw(CONDITIONS), "then": {"action": "act", "respond_within": "1h"}}
             for i in range(draw(st.integers(0, 6)))]
    collect = [{"id": f"c{i}", "collect": True, "when": draw(CONDITIONS), "then": {"gestures": ["note"]}}
               for i in range(draw(st.integers(0, 3)))]
    rules: list[dict[str, Any]] = [*first, *collect]
    rules.insert(draw(st.integers(0, len(rules))), {"id": "fallback", "default": True, "then": {"action": "act", "respond_within": "1d"}})
    band_rows = [{"when": draw(INPUT_CONDITIONS), "value": draw(st.sampled_from(BANDS))} for _ in range(draw(st.integers(0, 3)))]
    zone_rows = [{"when": draw(CONDITIONS), "value": draw(st.sampled_from(KINDS))} for _ in range(draw(st.integers(0, 2)))]
    return {
        "policy": "generated", "version": "1", "currency": "EUR", "budget_cap": 100,
        "facts": {
            "sev": {"type": "level", "values": LEVELS, "required": True},
            "kind": {"type": "enum", "values": KINDS, "default": "k0"},
            "amt": {"type": "money", "default": 0},
            "cnt": {"type": "integer", "min": 0, "default": 0},
            "ratio": {"type": "number", "default": 0},
            "flag": {"type": "boolean", "default": False},
            "tag": {"type": "string", "default": ""},
        },
        "derived": {
            "band": {"type": "level", "values": BANDS, "default": "mid", "table": band_rows},
            "zone": {"type": "enum", "values": KINDS, "default": "k1", "table": zone_rows},
        },
        "gestures": {"note": {"label": "Note"}},
        "actions": {"act": {"label": "Act"}},
        "approval": {"levels": ["agent"], "ladder": [{"level": "agent"}]},
        "rules": rules,
    }


def _yaml(value: Any) -> Any:
    """Money as YAML numbers written with their digits (the loader reads them back as Decimal)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _yaml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml(v) for v in value]
    return value


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def load(folder: Path, data: dict[str, Any]) -> Policy:
    path = folder / "generated.yaml"
    path.write_text(yaml.safe_dump(_yaml(data), sort_keys=False), encoding="utf-8")
    return load_policy(path)


def complaints() -> st.SearchStrategy[dict[str, Any]]:
    near = st.sampled_from(AMOUNTS).flatmap(lambda a: st.sampled_from([a, a + Decimal("0.01"), max(a - Decimal("0.01"), Decimal(0))]))
    return st.fixed_dictionaries(
        {"sev": st.sampled_from(LEVELS)},
        optional={
            "kind": st.sampled_from(KINDS), "amt": st.one_of(near, near.map(str)), "cnt": st.sampled_from(COUNTS).flatmap(
                lambda n: st.sampled_from([n, n + 1, max(n - 1, 0)])), "ratio": st.sampled_from([*RATIOS, -3.0, 0.5, 40.25]),
            "flag": st.booleans(), "tag": st.sampled_from([*TAGS, "other", ""]),
        },
    )


# -- the property ---------------------------------------------------------------------------------
def disagreement(policy: Policy, complaint: dict[str, Any]) -> str | None:
    """How explain, coverage or the full trace differ from ``decide`` on ``complaint``; None when they agree."""
    decision = policy.decide(complaint)
    decided = [decision.rule, *(entry.rule for entry in decision.trace if entry.hit == "collect")]
    why = policy.explain(complaint)
    explained = [why.rule, *(add_on.rule for add_on in why.add_ons)]
    covered = {rule.rule for rule in coverage_of(policy, [decision]).rules if rule.covered}
    traced = [entry.rule for entry in policy.decide(complaint, full_trace=True).trace if entry.fired]
    derived = {table.fact: table.value for table in why.derived}
    if explained != decided:
        return f"explain says {explained}, decide {decided}"
    if covered != set(decided):
        return f"coverage hit {sorted(covered)}, decide fired {decided}"
    if traced != decided:
        return f"the full trace fired {traced}, decide {decided}"
    if derived != {name: decision.facts[name] for name in derived}:
        return f"explain derived {derived}, decide {decision.facts}"
    return None


@PROFILE
@given(data=policy_data(), batch=st.lists(complaints(), min_size=1, max_size=8))
def test_explain_coverage_and_full_trace_agree_with_decide(folder: Path, data: dict[str, Any], batch: list[dict[str, Any]]) -> None:
    policy = load(folder, data)
    for complaint in batch:
        assert disagreement(policy, complaint) is None, complaint


def test_the_property_catches_a_broken_evaluator(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Break the evaluator's ``not`` (it keeps its part's value) and the property finds a policy and
    complaint where explain and decide part ways: the property can fail."""
    mended = evaluation_module._fill

    def broken(condition: Any, facts: Any, truth: dict[int, bool]) -> bool:
        value = mended(condition, facts, truth)
        if isinstance(condition, Group) and condition.kind == "not":
            value = truth[id(condition)] = not value
        return value

    monkeypatch.setattr(evaluation_module, "_fill", broken)
    example = find(st.tuples(policy_data(), complaints()), lambda pair: disagreement(load(folder, pair[0]), pair[1]) is not None,
                   settings=settings(max_examples=2000, deadline=None, database=None, phases=[Phase.generate]))  # no shrinking: any example will do
    assert "not" in yaml.safe_dump(_yaml(example[0]))


# -- the trace itself -----------------------------------------------------------------------------
def test_a_trace_tries_rules_up_to_the_winner_and_every_add_on(default_policy: Policy) -> None:
    facts = facts_of(default_policy, {"severity": "medium", "channel": "press", "audience": 50000})
    trace = evaluate(default_policy.compiled, facts)
    assert [entry.rule.id for entry in trace.first] == ["staff-misconduct", "public-crisis", "out-of-stock", "serious-failure", "goodwill-credit"]
    assert [entry.check.held for entry in trace.first] == [False, False, False, False, True]
    assert trace.default is None and trace.rule.id == "goodwill-credit"
    assert [entry.rule.id for entry in trace.add_ons] == [r.id for r in default_policy.rules if r.hit == "collect"]
    assert [rule.id for rule in trace.collected] == ["viral-urgency"]
    tier, visibility = trace.tables
    assert (tier.row, tier.value, len(tier.rows)) == (None, "standard", 3)  # every row tried, none matched
    assert (visibility.row, visibility.value, len(visibility.rows)) == (0, "viral", 1)
    crisis = trace.first[1].check
    assert crisis.blamed is not None and crisis.blamed[0].describe() == "severity at_least high" and not crisis.blamed[1]
    outcomes = [crisis.truth[id(part)] for _, part in branch_parts(crisis.condition)]
    assert outcomes == [True, False]  # visibility eq viral held, severity at_least high did not


def test_the_default_answers_when_no_first_hit_rule_holds(default_policy: Policy) -> None:
    trace = evaluate(default_policy.compiled, facts_of(default_policy, {"severity": "low", "channel": "email"}))
    assert trace.default is not None and trace.rule is trace.default
    assert len(trace.first) == sum(r.hit == "first" for r in default_policy.rules)
    assert trace.default.index not in trace.checks()


def test_a_check_evaluates_every_part_without_short_circuit(default_policy: Policy) -> None:
    goodwill = next(rule for rule in default_policy.rules if rule.id == "goodwill-credit").when
    facts = facts_of(default_policy, {"severity": "medium", "channel": "press", "audience": 50000, "customer_value": 9000})
    checked = check(goodwill, facts)
    assert checked.held and [checked.truth[id(part)] for _, part in branch_parts(goodwill)] == [True, True, True]
    assert checked.blamed is None
    assert blame(goodwill, facts) is None and blame(goodwill, facts, want=False) is not None
