"""Lint on large policies (issue 14: 10,000 rules took 88 s): the shortcuts that make it scale give
the answers the plain way gives.

- A test's cells on a large fact are found from its operator and constants (a bisect over numeric
  cells, a value or rank lookup otherwise), not by trying every cell: the same cells as trying them.
- A rule's shadowing rules are searched among the rules that win some cells, not all earlier rules.
- The per-rule analysis keeps what earlier rules cover instead of recomputing it for every rule.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from gesture_engine import Policy, loads_policy
from gesture_engine.engine.conditions import Compare
from gesture_engine.engine.conditions import Test as Leaf
from gesture_engine.tools.lint import MAX_NAMED, _cells_where, _Linter, _partition, _relation, lint

VALUES = [f"v{i:02d}" for i in range(50)]
LEVELS = [f"l{i:02d}" for i in range(40)]
WORDS = [f"w{i:02d}" for i in range(45)]

HEAD = f"""\
policy: big
version: "1"
currency: USD
budget_cap: 1000
facts:
  n: {{type: integer, min: 0, max: 1000, default: 0}}
  m: {{type: money, default: 0}}
  x: {{type: number, default: 0}}
  e: {{type: enum, values: [{", ".join(VALUES)}], default: v00}}
  lv: {{type: level, values: [{", ".join(LEVELS)}], default: l00}}
  s: {{type: string, default: ""}}
  b: {{type: boolean, default: false}}
gestures:
  apology: {{label: Apology}}
actions:
  act: {{label: Act}}
rules:
"""
TAIL = """\
  - id: fallback
    default: true
    then: {action: act, gestures: [apology], respond_within: 1d}
"""


def leaf(rng: random.Random, fact: str) -> str:
    """One random test of ``fact``, with any operator its type takes."""
    if fact in ("n", "m", "x"):
        number = lambda: rng.randrange(0, 1000) if fact != "x" else rng.randrange(-500, 500) / 4
        op = rng.choice(["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in"])
        if op == "between":
            low, high = sorted((number(), number()))
            return f"{fact}: {{between: [{low}, {high}]}}"
        if op in ("in", "not_in"):
            return f"{fact}: {{{op}: [{', '.join(str(number()) for _ in range(rng.randint(1, 4)))}]}}"
        return f"{fact}: {{{op}: {number()}}}"
    choices = {"e": VALUES, "lv": LEVELS, "s": WORDS, "b": ["true", "false"]}[fact]
    ops = ["eq", "ne", "in", "not_in"] + (["at_least", "at_most"] if fact == "lv" else [])
    op = rng.choice(ops)
    if op in ("in", "not_in"):
        return f"{fact}: {{{op}: [{', '.join(rng.sample(choices, rng.randint(1, 2)))}]}}"
    return f"{fact}: {{{op}: {rng.choice(choices)}}}"


def policy_text(rng: random.Random, rules: int, facts: list[str]) -> str:
    lines = []
    for i in range(rules):
        tests = [leaf(rng, fact) for fact in rng.sample(facts, rng.randint(1, min(2, len(facts))))]
        lines.append(f"  - id: r{i:04d}\n    when: {{{', '.join(tests)}}}\n    then: {{action: act, respond_within: 1h}}\n")
    return HEAD + "".join(lines) + TAIL


@pytest.fixture(scope="module")
def big() -> Policy:
    return loads_policy(policy_text(random.Random(5), 400, ["n", "m", "x", "e", "lv", "s", "b"]))


def test_cells_of_a_test_are_the_cells_where_it_holds(big: Policy) -> None:
    tests: dict[str, list[Leaf]] = {}
    for rule in big.rules:
        for test in rule.when.tests():
            tests.setdefault(test.fact, []).append(test)
    checked = 0
    for name, fact_tests in tests.items():
        part = _partition(big.facts[name], fact_tests)
        for test in fact_tests:
            found = [k for start, stop in _cells_where(part, test) for k in range(start, stop)]
            assert found == [k for k, rep in enumerate(part.reps) if test.holds({name: rep})], (name, test.describe())
            checked += len(part.reps) > 32  # the shortcut, not the small-fact path
    assert checked > 300


@pytest.mark.parametrize("seed", range(3))
def test_the_whole_analysis_agrees_with_the_engine_on_every_cell(seed: int) -> None:
    """Many thresholds and values (the shortcuts' ground), every cell decided by the engine."""
    policy = loads_policy(policy_text(random.Random(seed), 150, ["n", "e"]))
    report = lint(policy)
    assert report.exact
    linter = _Linter(policy, None, 10**6, 10)
    space = linter.space(linter.inputs_of(r.when for r in policy.rules))
    assert space.sizes[0] > 32 and space.sizes[1] > 32
    covered, wins = 0, []
    for rule in (r for r in policy.rules if r.hit == "first"):
        cells = space.mask(rule.when)
        wins.append((rule.id, cells & ~covered))
        covered |= cells
    dead = {f.rule for f in report.findings if f.code in ("GE101", "GE102")}
    assert dead == {rule for rule, win in wins if not win}
    for cell in range(space.total):
        complaint: dict[str, Any] = {p.fact.name: p.reps[(cell // space.strides[i]) % space.sizes[i]] for i, p in enumerate(space.parts)}
        expected = next((rule for rule, win in wins if win >> cell & 1), "fallback")
        assert policy.decide(complaint).rule == expected, complaint


def test_rule_by_rule_finds_what_the_whole_analysis_finds() -> None:
    """While the facts read so far fit, rule by rule finds the dead rules the whole analysis finds."""
    text = policy_text(random.Random(11), 150, ["n"])
    later = policy_text(random.Random(12), 20, ["e"]).split("rules:\n")[1].replace("id: r0", "id: e0").removesuffix(TAIL)
    policy = loads_policy(text.removesuffix(TAIL) + later + TAIL)
    linter = _Linter(policy, None, 10**6, 10)
    fits = linter.size({"n"})
    exact, by_rule = lint(policy), lint(policy, max_cells=fits)
    assert exact.exact and not by_rule.exact
    dead = {(f.rule, f.code, f.message) for f in exact.findings if f.code in ("GE101", "GE102") and f.rule.startswith("r")}
    assert len(dead) > 10
    assert dead == {(f.rule, f.code, f.message) for f in by_rule.findings if f.code in ("GE101", "GE102") and f.rule.startswith("r")}


def test_a_rule_shadowed_by_many_names_the_first_and_counts_the_rest() -> None:
    bands = [f"  - id: band{i:02d}\n    when: {{n: {{gte: {i * 10}, lt: {i * 10 + 10}}}}}\n    then: {{action: act, respond_within: 1h}}\n"
             for i in range(MAX_NAMED + 3)]
    late = f"  - id: late\n    when: {{n: {{lt: {(MAX_NAMED + 3) * 10}}}}}\n    then: {{action: act, respond_within: 1h}}\n"
    report = lint(loads_policy(HEAD + "".join(bands) + late + TAIL))
    (finding,) = [f for f in report.findings if f.rule == "late"]
    named = ", ".join(f"band{i:02d}" for i in range(MAX_NAMED))
    assert finding.code == "GE101"
    assert f"earlier rule(s) {named} and 3 more match every complaint it matches" in finding.message


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "gte", "lt", "lte"])
def test_a_comparison_on_a_line_gets_the_cells_every_pair_gets(op: str) -> None:
    """Two numeric facts compared, each cut at many thresholds (some shared, some points): the shortcut
    over ordered cells (bisects, whole runs below and above) gives, surely and maybe, the cells that
    deciding every pair of cells gives."""
    rng = random.Random(op)
    rules = [f"  - id: c{i:03d}\n    when: {{all: [{{{leaf(rng, rng.choice(['n', 'x']))}}}, {{x: {{{op}: {{fact: n}}}}}}]}}\n"
             "    then: {action: act, respond_within: 1h}\n" for i in range(40)]
    policy = loads_policy(HEAD + "".join(rules) + TAIL)
    linter = _Linter(policy, None, 10**6, 10)
    space = linter.space({"n", "x"})
    assert min(space.sizes) > 32
    test = next(t for rule in policy.rules for t in rule.when.tests() if isinstance(t, Compare))
    for sure in (True, False):
        pairwise = 0
        for left, left_cells in space.cases("x", sure):
            for right, right_cells in space.cases("n", sure):
                holds = _relation(test, left, right)
                if holds or (holds is None and not sure):
                    pairwise |= left_cells & right_cells
        assert space.compared_on_a_line(test, sure) == pairwise, sure
    assert space.sure(test) != space.mask(test) or op in ("ne",)  # intervals that overlap: some cells only maybe
