"""Loading reports every policy mistake at once, each with file:line:col, the path and a plain message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gesture_engine import PolicyError, load_policy
from tests.conftest import MINIMAL


def problems(path: Path) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    return [str(p) for p in info.value.problems]


def test_semantic_mistakes_are_all_reported_with_locations(write_policy: Callable[..., Path]) -> None:
    text = MINIMAL.replace("when: {severity: {at_least: high}}", "when: {severty: {at_least: high}, channel: twitter}")
    text = text.replace("gestures: [apology, credit]", "gestures: [apology, cerdit]")
    text = text.replace("action: sorry", "action: sory")
    path = write_policy(text)
    found = problems(path)
    assert found == [
        f"{path}:22:12: rules[0].when.severty: unknown fact 'severty' (did you mean 'severity'?)",
        f"{path}:22:48: rules[0].when.channel: 'twitter' is not a value of channel (email, social)",
        f"{path}:25:27: rules[0].then.gestures[1]: unknown gesture 'cerdit' (did you mean 'credit'?)",
        f"{path}:30:20: rules[1].then.action: unknown action 'sory' (did you mean 'sorry'?)",
    ]


def test_schema_mistakes_are_plain(write_policy: Callable[..., Path]) -> None:
    text = MINIMAL.replace('version: "1"', "version: 1.0").replace("respond_within: 2h", "respond_within: soon")
    text = text.replace("  - id: high\n", "  - id: high\n    colect: true\n")
    found = problems(write_policy(text))
    assert any("version: expected a string, got 1.0 (quote it in YAML)" in p for p in found)
    assert any("rules[0].colect: unknown key 'colect' (did you mean 'collect'?)" in p for p in found)
    assert any("rules[0].then.respond_within: 'soon' is not a duration like 30m, 2h, 1d or 1h30m" in p for p in found)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("    default: true\n", ""), "no default rule"),
        (("  - id: fallback", "  - id: high"), "duplicate rule id 'high'"),
        (("{at_least: high}", "{at_least: hgh}"), "'hgh' is not a level of severity (low, medium, high) (did you mean 'high'?)"),
        (("{at_least: high}", "{gte: 3}"), ("gte needs a money, integer, number, duration, date or datetime fact; "
                                          "severity is level; use at_least/at_most")),
        (("spend: {type: money, default: 0}", "spend: {type: money, default: -1}"), "facts.spend.default: must be ≥ 0; got -1"),
        (("spend: {type: money, default: 0}", "spend: {type: money}"), "declare 'required: true' or a 'default'"),
        (("budget: 40", "budget: {base: 10, min: 20, max: 5}"), "min 20 is above max 5"),
        (("budget: 40", "budget: {base: {by: severity, values: {low: 1}}}"), "no amount for severity medium, high"),
        (("budget: 40", "budget: {base: {by: spend, values: {}}}"), "lookups need a level, enum or boolean fact; spend is money"),
        (("currency: USD", "currency: USX"), "unknown ISO 4217 currency 'USX'"),
        (("    - {up_to: 50, level: agent}\n", "    - {up_to: 50, level: agent}\n    - {up_to: 10, level: agent}\n"),
         "up_to must increase down the ladder"),
        (("respond_within: 2h", "respond_within: 2h\n      rationale: 'for {tier}'"), "{tier} is not a fact of this policy"),
        (("    then: {action: sorry", "    when: {severity: low}\n    then: {action: sorry"), "remove its 'when'"),
    ],
)
def test_each_mistake_has_a_clear_message(write_policy: Callable[..., Path], change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in MINIMAL
    found = problems(write_policy(MINIMAL.replace(old, new)))
    assert any(message in p for p in found), found


def test_derived_fact_cycles_are_rejected(write_policy: Callable[..., Path]) -> None:
    derived = """\
derived:
  a:
    type: enum
    values: [x, y]
    table: [{when: {b: x}, value: x}]
    default: y
  b:
    type: enum
    values: [x, y]
    table: [{when: {a: x}, value: x}]
    default: y
"""
    found = problems(write_policy(MINIMAL + derived))
    assert any("derived facts form a cycle: a → b → a" in p for p in found), found


def test_derived_chains_are_ordered_by_dependency(write_policy: Callable[..., Path]) -> None:
    derived = """\
derived:
  loud:
    type: level
    values: [quiet, loud]
    table: [{when: {urgent: yes_, channel: social}, value: loud}]
    default: quiet
  urgent:
    type: enum
    values: [no_, yes_]
    table: [{when: {severity: high}, value: yes_}]
    default: no_
"""
    text = MINIMAL.replace("when: {severity: {at_least: high}}", "when: {loud: loud}") + derived
    policy = load_policy(write_policy(text))
    assert [d.fact.name for d in policy.derived] == ["urgent", "loud"]
    assert policy.decide({"severity": "high", "channel": "social"}).rule == "high"
    assert policy.decide({"severity": "high", "channel": "email"}).rule == "fallback"


def test_unsafe_yaml_is_refused(write_policy: Callable[..., Path]) -> None:
    path = write_policy(MINIMAL.replace('policy: tiny', 'policy: !!python/object/apply:os.system ["echo hi"]'))
    assert problems(path) == [f"{path}:1:9: policy: YAML tag !!python/object/apply:os.system is not allowed in a policy"]


def test_duplicate_keys_are_refused(write_policy: Callable[..., Path]) -> None:
    path = write_policy(MINIMAL.replace("budget_cap: 100\n", "budget_cap: 100\nbudget_cap: 200\n"))
    assert problems(path) == [f"{path}:5:1: budget_cap: duplicate key 'budget_cap'"]


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}:1:1: no such file or directory"]
    assert problems(tmp_path) == [f"{tmp_path}:1:1: directory holds no *.yaml policy files"]


def test_validation_problems_have_stable_codes_and_locations(write_policy: Callable[..., Path]) -> None:
    """Each validation mistake is one problem with our code, at the place it was written, in file order."""
    text = MINIMAL.replace('version: "1"', "version: 1.0").replace("respond_within: 2h", "respond_within: soon")
    text = text.replace("  - id: high\n", "  - id: high\n    colect: true\n").replace("budget: 40", "budget: '40'")
    text = text.replace("spend: {type: money, default: 0}", "spend: {type: mony, default: 0}")
    text = text.replace("  credit: {label: Credit, monetary: true}", "  credit: {monetary: true}")
    text = text.replace("    - {up_to: 50, level: agent}", "    - {up_to: -50, level: agent}")
    path = write_policy(text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    found = [(p.line, p.column, p.path, p.code) for p in info.value.problems]
    assert found == [
        (2, 10, "version", "type"),
        (8, 17, "facts.spend.type", "one-of"),
        (11, 3, "gestures.credit", "required"),
        (18, 15, "approval.ladder[0].up_to", "range"),
        (22, 13, "rules[0].colect", "unknown-key"),
        (27, 15, "rules[0].then.budget", "type"),
        (28, 23, "rules[0].then.respond_within", "pattern"),
    ]
    messages = [p.message for p in info.value.problems]
    assert messages[1].startswith("expected one of level, enum, money, integer, number, boolean, string, duration, date, datetime, list; "
                                  "got 'mony' (did you mean 'money'?)")
    assert messages[2] == "missing required key 'label'"
    assert messages[3] == "must be ≥ 0; got -50"
    assert messages[5] == "expected a number or a mapping, got '40'"  # one problem, not one per way a budget can be written


@pytest.mark.parametrize(
    ("change", "where", "code"),
    [
        (("{at_least: high}", "{at_least: high, gte: many}"), "rules[0].when.severity.gte", "pattern"),
        (("{at_least: high}", "[high]"), "rules[0].when.severity", "type"),
        (("budget: 40", "budget: {base: 10, percent_of: {fact: spend}}"), "rules[0].then.budget.percent_of", "required"),
        (("budget: 40", "budget: {base: {by: severity, values: {low: -1}}}"), "rules[0].then.budget.base.values.low", "range"),
        (("budget: 40", "budget: {base: 10, mx: 5}"), "rules[0].then.budget.mx", "unknown-key"),
        (("gestures: [apology, credit]", "gestures: [apology, apology]"), "rules[0].then.gestures", "unique"),
        (("levels: [agent, manager]", "levels: []"), "approval.levels", "length"),
        (("spend: {type: money, default: 0}", "spend: {type: money, default: 0, max_length: 3}"), "facts.spend.max_length", "fact"),
    ],
)
def test_each_validation_mistake_has_one_coded_problem(write_policy: Callable[..., Path], change: tuple[str, str], where: str,
                                                       code: str) -> None:
    old, new = change
    assert old in MINIMAL
    with pytest.raises(PolicyError) as info:
        load_policy(write_policy(MINIMAL.replace(old, new)))
    assert [(p.path, p.code) for p in info.value.problems] == [(where, code)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINIMAL.replace("budget_cap: 100\n", ""), [("", "required")]),
        (MINIMAL.split("rules:")[0], [("", "required"), ("rules", "no-default")]),
        (MINIMAL.replace("  - id: fallback", "  - id: Fallback").replace("  - id: high", "  - id: High"),
         [("rules[0].id", "pattern"), ("rules[1].id", "pattern")]),  # not also "rules: needs at least 1 item"
        (MINIMAL + "invariants:\n  - {monotone: cost, in: severity}\n  - {monotone: budget, in: nope}\n",
         [("invariants[0].monotone", "one-of"), ("invariants[1].in", "unknown-fact")]),  # the sound invariant is still checked
        (MINIMAL.replace("spend: {type: money, default: 0}", "spend: {type: money, default: 0, colour: 1}"),
         [("facts.spend.colour", "unknown-key")]),
    ],
)
def test_sound_parts_of_an_invalid_policy_are_still_checked(write_policy: Callable[..., Path], text: str,
                                                            expected: list[tuple[str, str]]) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(write_policy(text))
    assert [(p.path, p.code) for p in info.value.problems] == expected


def test_a_broken_part_of_a_rule_does_not_hide_the_mistakes_in_its_other_parts() -> None:
    """A condition that fails validation still lets the rule's action and gestures be checked, and the
    other way round: every problem at once."""
    from gesture_engine import loads_policy
    from tests.conftest import policy_text

    broken_when = policy_text(rules=[{"id": "high", "when": {"severity": {"at_least": ["x"]}}, "then": {"action": "payy", "gestures": ["creditt"]}},
                                     {"id": "f", "default": True, "then": {"action": "sorry"}}])
    with pytest.raises(PolicyError) as info:
        loads_policy(broken_when)
    assert [(p.path, p.code) for p in info.value.problems] == [
        ("rules[0].when.severity.at_least", "type"), ("rules[0].then.action", "unknown-action"), ("rules[0].then.gestures[0]", "unknown-gesture")]
    broken_then = policy_text(rules=[{"id": "high", "when": {"severity": {"at_least": "hihg"}}, "then": {"action": "pay", "budget": "x"}},
                                     {"id": "f", "default": True, "then": {"action": "sorry"}}])
    with pytest.raises(PolicyError) as info:
        loads_policy(broken_then)
    assert [(p.path, p.code) for p in info.value.problems] == [("rules[0].when.severity.at_least", "unknown-value"),
                                                               ("rules[0].then.budget", "type")]
