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
from datetime import UTC, date, datetime, timedelta
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
from gesture_engine.timevalues import format_datetime, format_span, parse_span
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
ORDER = ["gt", "gte", "lt", "lte", "eq", "ne"]
WAITS = ["0m", "30m", "PT1H", "3h", "1d"]
DAYS = ["2026-01-01", "2026-02-01", "2026-03-02"]
MOMENTS = ["2026-01-01T00:00:00Z", "2026-01-01T09:00:00+01:00", "2026-02-01T12:30:00Z"]
SPANS = ["0d", "1d", "30d", "PT12H"]
MARKS = ["vip", "press", "legal"]
LABELS = ["x", "y"]


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
        st.tuples(st.sampled_from(ORDER), st.sampled_from([("cnt", "ratio"), ("ratio", "cnt"), ("amt", "cap")])).map(
            lambda t: {t[1][0]: {t[0]: {"fact": t[1][1]}}}),  # one fact compared with another
        st.sampled_from(["eq", "ne", "at_least", "at_most"]).map(lambda op: {"sev": {op: {"fact": "floor"}}}),
    ]
    order = st.sampled_from(["gt", "gte", "lt", "lte", "eq", "ne"])
    for name, values in (("wait", WAITS), ("day", DAYS), ("at", MOMENTS)):
        leaves.append(st.tuples(order, _operand(values)).map(lambda t, name=name: {name: {t[0]: t[1]}}))
        leaves.append(st.lists(_operand(values), min_size=2, max_size=2).map(lambda ab, name=name, values=values: {
            name: {"between": sorted(ab, key=values.index)}}))
        leaves.append(st.lists(_operand(values), min_size=1, max_size=2, unique=True).map(lambda v, name=name: {name: {"not_in": v}}))
    leaves.append(st.tuples(st.sampled_from(ORDER), st.sampled_from([("day", "due"), ("at", "seen"), ("seen", "at")])).map(
        lambda t: {t[1][0]: {t[0]: {"fact": t[1][1]}}}))  # a date with a date, a datetime with a datetime
    relative = st.tuples(st.sampled_from(["within", "older_than"]), _operand(SPANS), st.sampled_from(["received_at", "at", "day"]))
    leaves.append(relative.filter(lambda t: t[2] != "day").map(lambda t: {"day": {t[0]: t[1], "of": t[2]}}))
    leaves.append(relative.filter(lambda t: t[2] != "at").map(lambda t: {"at": {t[0]: t[1], "of": t[2]}}))
    leaves.append(_operand(MARKS).map(lambda v: {"tags": {"contains": v}}))
    leaves.append(st.tuples(st.sampled_from(["contains_any", "contains_all"]), st.lists(_operand(MARKS), min_size=1, max_size=3, unique=True))
                  .map(lambda t: {"tags": {t[0]: t[1]}}))
    leaves.append(st.booleans().map(lambda b: {"tags": {"empty": b}}))
    leaves.append(st.tuples(st.sampled_from(["contains_any", "contains_all"]), st.lists(_operand(LABELS), min_size=1, max_size=2, unique=True))
                  .map(lambda t: {"labels": {t[0]: t[1]}}))
    leaves.append(st.booleans().map(lambda b: {"labels": {"empty": b}}))
    if bands:
        leaves.append(st.tuples(st.sampled_from(["at_least", "eq", "ne"]), _operand(BANDS)).map(lambda t: {"band": {t[0]: t[1]}}))
        leaves.append(st.tuples(st.sampled_from(ORDER), st.sampled_from(["cnt", "ratio"])).map(lambda t: {t[1]: {t[0]: {"fact": "allowed"}}}))
        leaves.append(st.sampled_from(ORDER).map(lambda op: {"wait": {op: {"fact": "allowed_wait"}}}))  # a duration with a derived one
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
    allowed_rows = [{"when": draw(INPUT_CONDITIONS), "value": draw(st.sampled_from(COUNTS))} for _ in range(draw(st.integers(0, 2)))]
    wait_rows = [{"when": draw(INPUT_CONDITIONS), "value": draw(st.sampled_from(WAITS))} for _ in range(draw(st.integers(0, 2)))]
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
            "cap": {"type": "money", "default": 10},
            "floor": {"type": "level", "values": LEVELS, "default": "l1"},
            "wait": {"type": "duration", "default": "0m"},
            "day": {"type": "date", "default": "2026-01-01"},
            "at": {"type": "datetime", "default": "2026-01-01T00:00:00Z"},
            "tags": {"type": "list", "values": MARKS, "default": []},
            "labels": {"type": "list", "default": []},
            "due": {"type": "date", "default": "2026-02-01"},
            "seen": {"type": "datetime", "default": "2026-01-01T09:00:00+01:00"},
        },
        "derived": {
            "band": {"type": "level", "values": BANDS, "default": "mid", "table": band_rows},
            "zone": {"type": "enum", "values": KINDS, "default": "k1", "table": zone_rows},
            "allowed": {"type": "integer", "default": draw(st.sampled_from(COUNTS)), "table": allowed_rows},
            "allowed_wait": {"type": "duration", "default": draw(st.sampled_from(WAITS)), "table": wait_rows},
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


def _beside(values: list[Any], step: timedelta) -> st.SearchStrategy[Any]:
    """A value on, just above or just below one of ``values``."""
    return st.sampled_from(values).flatmap(lambda v: st.sampled_from([v, v + step, v - step]))


def complaints() -> st.SearchStrategy[dict[str, Any]]:
    near = st.sampled_from(AMOUNTS).flatmap(lambda a: st.sampled_from([a, a + Decimal("0.01"), max(a - Decimal("0.01"), Decimal(0))]))
    second, day = timedelta(seconds=1), timedelta(days=1)
    waits = _beside([parse_span(w) for w in WAITS], second).filter(lambda w: w >= timedelta(0))
    days = _beside([date.fromisoformat(d) for d in DAYS], day)
    moments = _beside([datetime.fromisoformat(m.replace("Z", "+00:00")) for m in MOMENTS], second)
    received = st.one_of(_beside([datetime.fromisoformat(m.replace("Z", "+00:00")) for m in MOMENTS], day), moments,
                         (days.map(lambda d: datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=UTC))))
    return st.fixed_dictionaries(
        {"sev": st.sampled_from(LEVELS)},
        optional={
            "kind": st.sampled_from(KINDS), "amt": st.one_of(near, near.map(str)), "cnt": st.sampled_from(COUNTS).flatmap(
                lambda n: st.sampled_from([n, n + 1, max(n - 1, 0)])), "ratio": st.sampled_from([*RATIOS, -3.0, 0.5, 40.25]),
            "flag": st.booleans(), "tag": st.sampled_from([*TAGS, "other", ""]),
            "cap": near, "floor": st.sampled_from(LEVELS),
            "wait": st.one_of(waits.map(format_span), waits.map(_iso)), "day": days.map(date.isoformat),
            "at": moments.map(format_datetime), "tags": st.lists(st.sampled_from(MARKS), unique=True).flatmap(st.permutations),
            "labels": st.lists(st.sampled_from([*LABELS, "z"]), unique=True), "received_at": received.map(format_datetime),
            "due": days.map(date.isoformat), "seen": moments.map(format_datetime),
        },
    )


def _iso(span: timedelta) -> str:
    """A duration in ISO 8601, as an integration might send it."""
    seconds = int(span.total_seconds())
    return f"PT{seconds}S"


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
