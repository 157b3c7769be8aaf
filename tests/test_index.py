"""The bitset index agrees with evaluating rules one by one, over random policies and complaints."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
import yaml

from gesture_engine import Policy, load_policy
from gesture_engine.engine import index as index_module
from gesture_engine.engine.conditions import Facts, domain_cells
from gesture_engine.engine.facts import Fact
from gesture_engine.engine.index import CellBits
from tests.conftest import fired, fired_plainly

LEVELS = ["l0", "l1", "l2", "l3"]
KINDS = ["k0", "k1", "k2"]
THRESHOLDS = [0, 5, 10, 100, 250]


def random_test(rnd: random.Random, derived: bool = True) -> dict[str, Any]:
    fact = rnd.choice(["lvl", "kind", "count", "spend", "ratio", "flag", "tag", *(["band"] if derived else [])])
    if fact in ("lvl", "band"):
        values = LEVELS if fact == "lvl" else ["lo", "mid", "hi"]
        op = rnd.choice(["eq", "ne", "in", "not_in", "at_least", "at_most"])
        if op in ("in", "not_in"):
            return {fact: {op: rnd.sample(values, rnd.randint(1, 2))}}
        return {fact: {op: rnd.choice(values)}} if op != "eq" else {fact: rnd.choice(values)}
    if fact == "kind":
        op = rnd.choice(["eq", "ne", "in", "not_in"])
        return {fact: {op: rnd.sample(KINDS, 2) if op.endswith("in") else rnd.choice(KINDS)}}
    if fact == "flag":
        return {fact: rnd.choice([True, False])}
    if fact == "tag":
        op = rnd.choice(["eq", "ne", "in", "not_in"])
        return {fact: {op: ["vip", "press"] if op.endswith("in") else rnd.choice(["vip", "press"])}}
    op = rnd.choice(["gt", "gte", "lt", "lte", "eq", "ne", "between", "in", "not_in"])
    if op == "between":
        low, high = sorted(rnd.sample(THRESHOLDS, 2))
        return {fact: {op: [low, high]}}
    if op in ("in", "not_in"):
        return {fact: {op: rnd.sample(THRESHOLDS, 2)}}
    if rnd.random() < 0.3:  # two comparisons on one fact: an interval
        low, high = sorted(rnd.sample(THRESHOLDS, 2))
        return {fact: {"gte": low, "lt": high}}
    return {fact: {op: rnd.choice(THRESHOLDS)}}


def random_condition(rnd: random.Random, depth: int = 0, derived: bool = True) -> dict[str, Any]:
    roll = rnd.random()
    if depth < 2 and roll < 0.15:
        return {"any": [random_condition(rnd, depth + 1, derived) for _ in range(rnd.randint(1, 3))]}
    if roll < 0.2:  # an interval union and an interval on one numeric fact: not one interval
        return {"all": [{"any": [{"count": {"lt": 5}}, {"count": {"gt": 100}}]}, {"count": {"gte": rnd.choice(THRESHOLDS)}}]}
    if depth < 2 and roll < 0.25:
        return {"not": random_condition(rnd, depth + 1, derived)}
    if depth < 2 and roll < 0.35:
        return {"all": [random_condition(rnd, depth + 1, derived) for _ in range(rnd.randint(1, 3))]}
    merged: dict[str, Any] = {}
    for _ in range(rnd.randint(1, 3)):
        merged.update(random_test(rnd, derived))
    return merged


def random_policy(rnd: random.Random, rules: int) -> dict[str, Any]:
    derived_rows = [{"when": random_condition(rnd, derived=False), "value": rnd.choice(["lo", "mid", "hi"])} for _ in range(rnd.randint(0, 4))]
    return {
        "policy": "random", "version": "1", "currency": "EUR", "budget_cap": 100,
        "facts": {
            "lvl": {"type": "level", "values": LEVELS, "required": True},
            "kind": {"type": "enum", "values": KINDS, "default": "k0"},
            "count": {"type": "integer", "default": 0},
            "spend": {"type": "money", "default": 0},
            "ratio": {"type": "number", "default": 0},
            "flag": {"type": "boolean", "default": False},
            "tag": {"type": "string", "default": ""},
        },
        "derived": {"band": {"type": "level", "values": ["lo", "mid", "hi"], "table": derived_rows, "default": "mid"}},
        "gestures": {"sorry": {"label": "Sorry"}},
        "actions": {f"a{i}": {"label": f"A{i}"} for i in range(rules + 1)},
        "approval": {"levels": ["agent"], "ladder": [{"level": "agent"}]},
        "rules": [
            *({"id": f"r{i}", "when": random_condition(rnd), "then": {"action": f"a{i}", "respond_within": "1h"}} for i in range(rules)),
            *({"id": f"c{i}", "collect": True, "when": random_condition(rnd), "then": {"gestures": ["sorry"]}} for i in range(rules // 3)),
            {"id": "default", "default": True, "then": {"action": f"a{rules}", "respond_within": "1d"}},
        ],
    }


def random_complaint(rnd: random.Random) -> dict[str, Any]:
    def number() -> Any:
        return rnd.choice([*THRESHOLDS, -1, 3, 7, 99, 101, 1000, 250])
    return {
        "lvl": rnd.choice(LEVELS), "kind": rnd.choice(KINDS), "count": number(),
        "spend": Decimal(abs(number())) + rnd.choice([Decimal(0), Decimal("0.5")]),
        "ratio": float(number()) + rnd.choice([0.0, 0.25, -0.25]),
        "flag": rnd.choice([True, False]), "tag": rnd.choice(["vip", "press", "other", ""]),
    }


def plain_derived(policy: Policy, facts: Facts) -> dict[str, Any]:
    out = dict(facts)
    for derived in policy.derived:
        out[derived.fact.name] = next((value for condition, value in derived.rows if condition.holds(out)), derived.default)
    return out


@pytest.mark.parametrize("compact", [False, True], ids=["full", "compact"])
@pytest.mark.parametrize("seed", range(12))
def test_index_matches_rule_by_rule_evaluation(tmp_path: Any, seed: int, compact: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """``compact``: numeric cells keep a full bitset only every few cells (``CellBits``), as a large index does."""
    if compact:
        monkeypatch.setattr(index_module, "FULL_BITSETS_BYTES", 0)
        monkeypatch.setattr(index_module, "CHANGES_PER_BITSET", 3)
    rnd = random.Random(seed)
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(random_policy(rnd, rules=rnd.choice([5, 30, 120]))), encoding="utf-8")
    policy = load_policy(path)
    assert all(isinstance(bits, CellBits) == compact for _, bits in policy._index._numeric.values())
    for _ in range(300):
        complaint = random_complaint(rnd)
        decision = policy.decide(complaint)
        facts = dict(decision.facts)
        reference = plain_derived(policy, {k: v for k, v in facts.items() if k in policy.facts})
        assert facts == reference
        assert fired(decision) == fired_plainly(policy, facts), complaint


def test_dead_rules_before_the_match_are_skipped(tmp_path: Any) -> None:
    rnd = random.Random(7)
    data = random_policy(rnd, rules=3)
    data["facts"]["region"] = {"type": "enum", "values": ["north", "south", "nowhere"], "default": "north"}
    dead = [{"id": f"dead{i}", "when": {"region": "nowhere", "count": {"gte": i}}, "then": {"action": "a0", "respond_within": "1h"}}
            for i in range(1000)]
    data["rules"] = dead + data["rules"]
    path = tmp_path / "dead.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    policy = load_policy(path)
    for _ in range(200):
        decision = policy.decide(random_complaint(rnd))
        assert fired(decision) == fired_plainly(policy, decision.facts)
        assert not decision.rule.startswith("dead")


def test_conditions_over_several_facts_become_index_terms() -> None:
    """``any`` across facts (the default policy's goodwill-credit and remember-when) is matched by
    bits alone, and a condition too tangled to expand keeps a whole-condition check."""
    from gesture_engine.engine.conditions import Group
    from gesture_engine.engine.index import MAX_TERMS, _terms

    policy = load_policy()
    assert policy._index._plain and not policy._index._residual
    goodwill = next(rule for rule in policy.rules if rule.id == "goodwill-credit")
    assert len(_terms(goodwill.when) or []) == 3
    wide = Group(goodwill.when.path, "all", tuple([goodwill.when] * 3))
    assert MAX_TERMS < 3 * 3 * 3 and _terms(wide) is None


@pytest.mark.parametrize("kind", ["money", "integer", "number"])
def test_every_numeric_cell_holds_its_representative(kind: str) -> None:
    """``domain_cells``, which the index, lint and the invariant search share: a cell's representative
    lies in it, unbounded or within bounds, and only cells without a value of the type are empty."""
    rnd = random.Random(kind)
    fact = Fact("x", kind)
    for _ in range(50):
        constants = [rnd.choice([Decimal("0.5"), 1, 2, 3, 10, Decimal("10.25"), 400]) for _ in range(rnd.randint(0, 5))]
        if kind == "integer":
            constants = [c for c in constants if c == int(c)]
        for bounds in (None, (0, 100)):
            split = domain_cells(fact, constants, bounds)
            assert list(split.values) == sorted(split.values) and len(set(split.values)) == len(split.values)
            for cell in range(len(split)):
                low, low_closed, high, high_closed = split.interval(cell)
                if split.empty(cell):
                    assert kind == "integer" or low == high, (constants, bounds, cell)
                    continue
                value = split.representative(cell)
                assert split.cell(value) == cell, (constants, bounds, cell, value)
                assert low is None or (low <= value if low_closed else low < value)
                assert high is None or (value <= high if high_closed else value < high)
                assert kind != "integer" or value == int(value)


def test_a_string_fact_has_a_cell_for_every_other_string() -> None:
    split = domain_cells(Fact("tag", "string"), ["vip", "<other>", "press", "vip"])
    assert split.values == ("<other>", "press", "vip", "<other>_")
    assert [split.label(cell) for cell in range(len(split))] == ["<other>", "press", "vip", None]
