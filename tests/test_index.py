"""The bitset index agrees with evaluating rules one by one, over random policies and complaints."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
import yaml

from gesture_engine import Policy, load_policy, loads_policy
from gesture_engine.engine import index as index_module
from gesture_engine.engine.conditions import Facts, domain_cells
from gesture_engine.engine.facts import Fact
from gesture_engine.engine.index import CellBits
from tests.conftest import fired, fired_plainly

LEVELS = ["l0", "l1", "l2", "l3"]
KINDS = ["k0", "k1", "k2"]
THRESHOLDS = [0, 5, 10, 100, 250]


def random_comparison(rnd: random.Random, derived: bool = True) -> dict[str, Any]:
    """One fact compared with another: numbers with numbers (a derived one too), money with money, levels."""
    order = rnd.choice(["gt", "gte", "lt", "lte", "eq", "ne"])
    pairs = [("count", "limit", order), ("spend", "ceiling", order), ("ratio", "count", order), ("limit", "ratio", order),
             ("lvl", "floor", rnd.choice(["eq", "ne", "at_least", "at_most"]))]
    if derived:
        pairs += [("count", "allowed", order), ("allowed", "ratio", order)]
    fact, other, op = rnd.choice(pairs)
    return {fact: {op: {"fact": other}}}


def random_test(rnd: random.Random, derived: bool = True) -> dict[str, Any]:
    if rnd.random() < 0.15:
        return random_comparison(rnd, derived)
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
    allowed_rows = [{"when": random_condition(rnd, derived=False) if rnd.random() < 0.5 else {"band": rnd.choice(["lo", "mid", "hi"])},
                     "value": rnd.choice(THRESHOLDS)} for _ in range(rnd.randint(0, 3))]
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
            "limit": {"type": "integer", "default": 10},
            "ceiling": {"type": "money", "default": 100},
            "floor": {"type": "level", "values": LEVELS, "default": "l1"},
        },
        "derived": {"band": {"type": "level", "values": ["lo", "mid", "hi"], "table": derived_rows, "default": "mid"},
                    "allowed": {"type": "integer", "table": allowed_rows, "default": rnd.choice(THRESHOLDS)}},
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
        "limit": number(), "ceiling": Decimal(abs(number())) + rnd.choice([Decimal(0), Decimal("0.5")]), "floor": rnd.choice(LEVELS),
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


WAITS = ["0m", "45m", "PT1H", "3h", "2d"]
DAYS = ["2026-01-31", "2026-02-01", "2026-03-01"]
MARKS = ["vip", "press", "legal"]


def random_typed_test(rnd: random.Random, compare: bool = True) -> dict[str, Any]:
    """A test of a duration, date, datetime or list fact (or a relative test), for the index property;
    with ``compare``, also a duration, date or datetime compared with another of its type."""
    fact = rnd.choice(["wait", "day", "at", "tags", "labels", "relative", *(["compared"] * compare)])
    if fact == "compared":  # a wait against a derived allowance, a date with a date, a datetime with a datetime
        left, right = rnd.choice([("wait", "allowed_wait"), ("day", "due"), ("due", "day"), ("at", "seen")])
        return {left: {rnd.choice(["gt", "gte", "lt", "lte", "eq", "ne"]): {"fact": right}}}
    if fact in ("wait", "day", "at"):
        values = {"wait": WAITS, "day": DAYS, "at": [f"{d}T12:00:00Z" for d in DAYS]}[fact]
        op = rnd.choice(["gt", "gte", "lt", "lte", "eq", "ne", "between", "in"])
        if op == "between":
            return {fact: {op: sorted(rnd.sample(values, 2), key=values.index)}}
        return {fact: {op: rnd.sample(values, 2) if op == "in" else rnd.choice(values)}}
    if fact == "relative":
        measured, of = rnd.choice([("day", "received_at"), ("at", "received_at"), ("day", "due"), ("at", "seen")])
        return {measured: {rnd.choice(["within", "older_than"]): rnd.choice(["0d", "1d", "30d"]), "of": of}}
    op = rnd.choice(["contains", "contains_any", "contains_all", "empty"])
    values = MARKS if fact == "tags" else ["x", "y"]
    if op == "empty":
        return {fact: {op: rnd.choice([True, False])}}
    return {fact: {op: rnd.choice(values) if op == "contains" else rnd.sample(values, rnd.randint(1, 2))}}


def random_typed_condition(rnd: random.Random, depth: int = 0) -> dict[str, Any]:
    roll = rnd.random()
    if depth < 2 and roll < 0.2:
        return {rnd.choice(["any", "all"]): [random_typed_condition(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]}
    if depth < 2 and roll < 0.3:
        return {"not": random_typed_condition(rnd, depth + 1)}
    return {"all": [random_typed_test(rnd) for _ in range(rnd.randint(1, 2))]}


@pytest.mark.parametrize("seed", range(8))
def test_index_matches_rule_by_rule_evaluation_for_durations_dates_and_lists(tmp_path: Any, seed: int) -> None:
    """The same property over the newer fact types: durations and dates cut into cells, lists looked up
    per list met (and cached), relative tests (within/older_than of received_at or a date fact) and
    comparisons of two durations (one derived), dates or datetimes checked whole."""
    rnd = random.Random(seed)
    data = random_policy(rnd, rules=rnd.choice([5, 40]))
    data["facts"].update({
        "wait": {"type": "duration", "default": "0m"}, "day": {"type": "date", "default": "2026-02-01"},
        "at": {"type": "datetime", "default": "2026-02-01T12:00:00Z"}, "tags": {"type": "list", "values": MARKS, "default": []},
        "labels": {"type": "list", "default": []}, "due": {"type": "date", "default": "2026-02-01"},
        "seen": {"type": "datetime", "default": "2026-01-31T13:00:00+01:00"},
    })
    data["derived"]["allowed_wait"] = {"type": "duration", "default": rnd.choice(WAITS),
                                       "table": [{"when": random_typed_test(rnd, compare=False), "value": rnd.choice(WAITS)} for _ in range(2)]}
    data["derived"]["band"]["table"] = [{"when": random_typed_condition(rnd), "value": rnd.choice(["lo", "hi"])} for _ in range(3)]
    for rule in data["rules"]:
        if "when" in rule:
            rule["when"] = {"any": [rule["when"], random_typed_condition(rnd)]} if rnd.random() < 0.5 else random_typed_condition(rnd)
    path = tmp_path / "typed.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    policy = load_policy(path)
    for _ in range(300):
        complaint = random_complaint(rnd)
        complaint.update({
            "wait": rnd.choice([*WAITS, "44m59s", "45m1s", "PT3H1S", "2h59m59s"]),
            "day": rnd.choice([*DAYS, "2026-01-30", "2026-03-02"]),
            "at": rnd.choice(["2026-01-31T12:00:00Z", "2026-01-31T11:59:59Z", "2026-01-31T13:00:00+01:00", "2026-03-01T12:00:01Z"]),
            "tags": rnd.sample(MARKS, rnd.randint(0, 3)), "labels": rnd.sample(["x", "y", "z"], rnd.randint(0, 3)),
            "due": rnd.choice([*DAYS, "2026-01-30"]), "seen": rnd.choice(["2026-01-31T12:00:00Z", "2026-01-31T11:59:59Z", "2026-03-01T12:00:00Z"]),
        })
        if rnd.random() < 0.8:
            complaint["received_at"] = rnd.choice(["2026-02-01T00:00:00Z", "2026-03-02T23:59:59Z", "2026-03-31T12:00:00Z", "2026-01-31T12:00:00Z"])
        decision = policy.decide(complaint)
        facts = dict(decision.facts)
        reference = plain_derived(policy, {k: v for k, v in facts.items() if k in policy.facts or k == "received_at"})
        assert facts == reference
        assert fired(decision) == fired_plainly(policy, facts), complaint


OWN = [f"w{i:03d}" for i in range(120)]


def own_value_condition(rnd: random.Random, word: str, wide: bool) -> dict[str, Any]:
    """A rule's test of its own value (``product: w017``): alone, in a set or ``any`` of two; with ``wide``
    (holding nearly everywhere) negated or combined on the same fact, or a numeric set (``in``, ``ne``,
    outside a range) on ``count``."""
    fact = rnd.choice(["text", "item"])
    other = rnd.choice(OWN)
    shape = rnd.choice(["ne", "not_in", "not", "all", "numeric"] if wide else ["eq", "eq", "in", "any"])
    if shape == "eq":
        return {fact: word}
    if shape in ("in", "not_in"):
        return {fact: {shape: sorted({word, other})}}
    if shape == "ne":
        return {fact: {"ne": word}}
    if shape == "any":
        return {"any": [{fact: word}, {fact: other}]}
    if shape == "not":
        return {"not": {fact: {"in": sorted({word, other})}}}
    if shape == "all":
        return {"all": [{fact: {"ne": other}}, {"any": [{fact: word}, {"not": {fact: {"ne": other}}}]}]}
    low, high = sorted(rnd.sample(THRESHOLDS, 2))
    return rnd.choice([{"count": {"in": [low, high]}}, {"count": {"ne": low}}, {"count": {"not_in": [low, high]}},
                       {"any": [{"count": {"lt": low}}, {"count": {"gt": high}}]}, {"not": {"count": {"between": [low, high]}}},
                       {"any": [{"count": {"lte": high}}, {"count": {"gte": low}}]},  # overlapping: every number
                       {"any": [{"count": {"in": [low, high]}}, {"count": {"between": [low, high]}}, {"count": {"gt": high}}]}])


@pytest.mark.parametrize("seed", range(4))
def test_index_matches_rule_by_rule_evaluation_when_each_rule_names_its_own_value(seed: int) -> None:
    """The shape whose index used to take quadratic time to build (each rule's own string or enum
    value): the bits placed from each test's values agree with evaluating the rules one by one, on the
    named values, values no rule names, and numeric sets cut into runs of cells."""
    rnd = random.Random(seed)
    rules = [{"id": f"r{i}", "when": {"lvl": {"at_least": rnd.choice(LEVELS)}, **own_value_condition(rnd, word, rnd.random() < 0.05)},
              "then": {"action": "act", "respond_within": "1h"}} for i, word in enumerate(OWN)]
    rules += [{"id": f"c{i}", "collect": True, "when": own_value_condition(rnd, rnd.choice(OWN), rnd.random() < 0.5), "then": {"gestures": ["sorry"]}}
              for i in range(20)]
    data = {"policy": "own", "version": "1", "currency": "EUR", "budget_cap": 100,
            "facts": {"lvl": {"type": "level", "values": LEVELS, "required": True}, "text": {"type": "string", "default": ""},
                      "item": {"type": "enum", "values": [*OWN, "unnamed"], "default": "unnamed"},
                      "count": {"type": "integer", "default": 0}},
            "gestures": {"sorry": {"label": "Sorry"}}, "actions": {"act": {"label": "Act"}},
            "rules": [*rules, {"id": "default", "default": True, "then": {"action": "act", "respond_within": "1d"}}]}
    policy = loads_policy(yaml.safe_dump(data), name="own.yaml")
    hits = set()
    for _ in range(400):
        complaint = {"lvl": rnd.choice(LEVELS), "text": rnd.choice([*OWN, "", "w999"]), "item": rnd.choice([*OWN, "unnamed"]),
                     "count": rnd.choice([*THRESHOLDS, -1, 3, 7, 99, 101, 1000])}
        decision = policy.decide(complaint)
        assert fired(decision) == fired_plainly(policy, decision.facts), complaint
        hits.add(decision.rule)
    assert len(hits) > 10  # many rules win somewhere: the property is not met by the default alone


def test_numeric_parts_evaluated_cell_by_cell_agree_with_runs(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A numeric part the index cannot turn into runs of cells is evaluated on every cell instead: the
    same answers (forced here for every part)."""
    monkeypatch.setattr(index_module, "_part_runs", lambda position, part, last: None)
    rnd = random.Random(3)
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(random_policy(rnd, rules=40)), encoding="utf-8")
    policy = load_policy(path)
    for _ in range(300):
        decision = policy.decide(random_complaint(rnd))
        assert fired(decision) == fired_plainly(policy, decision.facts)
