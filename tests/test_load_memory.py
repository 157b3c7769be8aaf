"""A loaded policy keeps its own copies of the values it read, never the parser's objects.

Python gives memory back to the system a block (arena) at a time, once every object in the block is
gone; one parsed value kept by the policy would keep its block, full of the parse's dicts, resident.
"""

from __future__ import annotations

import gc
import types
from decimal import Decimal
from typing import Any

from gesture_engine import Policy, load_policy
from gesture_engine.load.compiler import compile_policy
from gesture_engine.load.source import Keeper, read_policy_source
from gesture_engine.resources import default_policy_path

BUDGETS = """\
policy: shared
version: "1"
currency: USD
budget_cap: 1000
facts:
  severity: {type: level, values: [low, high], required: true}
  spend: {type: money, default: 0}
  audience: {type: integer, default: 0}
gestures:
  credit: {label: Credit, monetary: true}
actions:
  pay: {label: Pay}
approval: {levels: [agent], ladder: [{level: agent}]}
rules:
  - id: one
    when: {spend: {gte: 1000, lt: 25000}, audience: {gte: 100000}}
    then: {action: pay, respond_within: 1h, budget: {base: {by: severity, values: {low: 2, high: 5}}, max: 12.5}}
  - id: two
    when: {spend: {gte: 30000.50}}
    then: {action: pay, respond_within: 1h, budget: {base: {by: severity, values: {low: 2, high: 5}}, max: 12.5}}
  - id: three
    when: {severity: high}
    then: {action: pay, respond_within: 1h, budget: {base: {by: severity, values: {low: 2.0, high: 5}}}}
  - id: fallback
    default: true
    then: {action: pay, respond_within: 1d}
"""


def _parsed_scalars(data: Any, found: dict[int, Any]) -> None:
    """The parser's own objects: strings longer than a character, ints beyond the shared small ones, Decimals."""
    if isinstance(data, dict):
        for key, value in data.items():
            _parsed_scalars(key, found)
            _parsed_scalars(value, found)
    elif isinstance(data, list):
        for item in data:
            _parsed_scalars(item, found)
    elif (isinstance(data, str) and len(data) > 1) or (type(data) is int and not -5 <= data <= 256) or isinstance(data, Decimal):
        found[id(data)] = data


def _reachable(root: object) -> dict[int, object]:
    seen: dict[int, object] = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
            continue
        seen[id(obj)] = obj
        stack.extend(gc.get_referents(obj))
    return seen


def test_a_loaded_policy_keeps_none_of_the_parsed_values(tmp_path: Any) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(BUDGETS, encoding="utf-8")
    rail = default_policy_path().parent / "examples" / "rail-delay"  # dates, durations, lists, locales, exchange rates
    for source in (default_policy_path(), rail, path):
        document = read_policy_source(source)
        parsed: dict[int, Any] = {}
        _parsed_scalars(document.data, parsed)
        policy = Policy(compile_policy(document))
        kept = [value for key, value in parsed.items() if key in _reachable(policy)]
        assert parsed and not kept, (source, kept[:5])


def test_equal_lookups_share_one_object_and_amounts_keep_their_text(tmp_path: Any) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(BUDGETS, encoding="utf-8")
    rules = {rule.id: rule for rule in Policy(compile_policy(read_policy_source(path))).rules}
    one, two, three = (rules[name].budget for name in ("one", "two", "three"))
    assert one is not None and two is not None and three is not None
    assert one.base is two.base and one.maximum is two.maximum
    assert three.base is not one.base and str(three.base.values["low"]) == "2.0"  # type: ignore[union-attr]


def test_the_keeper_copies_once_and_keeps_types_apart() -> None:
    keep = Keeper()
    text, number, amount = "".join(["re", "fund"]), int("123456789"), Decimal("5.0")
    assert keep(text) == text and keep(text) is not text and keep(text) is keep("refund")
    assert keep(number) == number and keep(number) is not number and keep(123456789) is keep(number)
    assert str(keep(amount)) == "5.0" and keep(Decimal(5)) is not keep(amount) and keep(5) is not keep(Decimal(5))
    assert keep(True) is True and keep(None) is None


def test_equal_tests_at_the_same_place_are_one_object(tmp_path: Any) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(BUDGETS.replace("{spend: {gte: 30000.50}}", "{spend: {gte: 1000.0}, audience: {gte: 100000}}"), encoding="utf-8")
    rules = {rule.id: rule for rule in Policy(compile_policy(read_policy_source(path))).rules}
    one, two = rules["one"].when.tests(), rules["two"].when.tests()  # spend gte 1000, ..., audience gte 100000
    assert one[2] is two[1] and one[2].path == ("audience", "gte")
    assert one[0] is not two[0] and str(two[0].operand) == "1000.0"  # 1000 and 1000.0 are written apart


def test_loading_leaves_no_reference_cycles_behind() -> None:
    """Parsed data caught in a cycle would stay until the garbage collector ran (never, while it is paused
    for loading): every part of a load is freed as soon as it is done with."""
    gc.collect()
    gc.disable()
    try:
        policy = load_policy()
        assert gc.collect() == 0, policy
    finally:
        gc.enable()
