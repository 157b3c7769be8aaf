"""The condition language: structured data compiled once into small callables.

A condition is a mapping. Each fact key holds a scalar (equality) or a mapping of operators, all of
which must hold; several keys in one mapping must all hold; ``all``/``any``/``not`` combine
conditions. Operators: ``eq ne in not_in`` for every type, ``gt gte lt lte between`` for money,
integer and number facts, ``at_least at_most`` for level facts. Operands are checked against the
fact's declared type and values at load time, so evaluation never meets a surprise.
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gesture_engine.engine.facts import Fact, FactValue, did_you_mean
from gesture_engine.errors import Problem
from gesture_engine.load.source import Document, Keeper, PathKey

Facts = Mapping[str, FactValue]

COMBINATORS = ("all", "any", "not")
ORDER_OPS = ("gt", "gte", "lt", "lte", "between")
LEVEL_OPS = ("at_least", "at_most")
SET_OPS = ("eq", "ne", "in", "not_in")


@dataclass(frozen=True, eq=False, slots=True)
class Condition:
    """A compiled condition: ``holds(facts)`` says whether it is true, the rest serves explanations.

    Deciding goes through the index (index.py), not ``holds``: conditions stay plain data with
    methods, without a closure per test, because a large policy has tens of thousands of them, and
    equal tests at the same place in two conditions are one object (``ConditionCompiler``).
    The bare class is the condition of a rule without ``when``.
    """

    path: PathKey
    """Where the condition sits within the ``when`` (or table row) it is part of: ``("any", 1, "tier")``;
    ``()`` for the whole condition."""

    def holds(self, facts: Facts) -> bool:
        return True

    def facts_used(self) -> tuple[str, ...]:
        """Facts this condition reads, in first-mention order."""
        return tuple(dict.fromkeys([test.fact for test in self.tests()]))

    def tests(self) -> tuple[Test, ...]:
        return ()

    def first_failure(self, facts: Facts) -> Test | None:
        """A leaf test that makes this condition false (None when it holds)."""
        return None


@dataclass(frozen=True, eq=False, slots=True)
class Test(Condition):
    """One fact compared with one operand, e.g. ``severity at_least high``."""

    fact: str
    op: str
    operand: Any
    compare: Callable[[Any, Any], bool] = field(repr=False)
    """``compare(value, argument)``: the operator, shared by every test using it."""
    argument: Any = field(repr=False)
    """The operand as ``compare`` takes it (a set for ``in``, a rank for levels)."""

    def holds(self, facts: Facts) -> bool:
        return bool(self.compare(facts[self.fact], self.argument))

    def tests(self) -> tuple[Test, ...]:
        return (self,)

    def facts_used(self) -> tuple[str, ...]:
        return (self.fact,)

    def first_failure(self, facts: Facts) -> Test | None:
        return None if self.holds(facts) else self

    def describe(self) -> str:
        return f"{self.fact} {self.op} {show(self.operand)}"

    @property
    def constants(self) -> tuple[Any, ...]:
        """The values this test compares with (two for ``between``, several for ``in``)."""
        return tuple(self.operand) if isinstance(self.operand, (list, tuple)) else (self.operand,)


@dataclass(frozen=True, eq=False, slots=True)
class Group(Condition):
    """``all``/``any``/``not`` over parts (``not`` has one part)."""

    kind: str
    parts: tuple[Condition, ...]

    def holds(self, facts: Facts) -> bool:
        if self.kind == "all":
            return all(part.holds(facts) for part in self.parts)
        if self.kind == "any":
            return any(part.holds(facts) for part in self.parts)
        return not self.parts[0].holds(facts)

    def tests(self) -> tuple[Test, ...]:
        found: list[Test] = []
        for part in self.parts:  # most parts are tests: take them as they are, without a call
            if isinstance(part, Test):
                found.append(part)
            else:
                found.extend(part.tests())
        return tuple(found)

    def first_failure(self, facts: Facts) -> Test | None:
        if self.holds(facts):
            return None
        if self.kind == "all":
            for part in self.parts:
                failed = part.first_failure(facts)
                if failed is not None:
                    return failed
        if self.kind == "any":
            return self.parts[0].first_failure(facts) if self.parts else None
        # ``not``: the inner condition held; report its first test
        inner = self.parts[0].tests()
        return inner[0] if inner else None


def show(value: Any) -> str:
    """A fact value or operand as people write it: ``true``, ``12.50``, ``[email, phone]``."""
    if value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(item) for item in value) + "]"
    return str(value)


def describe(condition: Condition) -> str:
    """A condition tree as one line: ``visibility eq viral and (severity at_least high or tier eq gold)``."""
    if isinstance(condition, Test):
        return condition.describe()
    if isinstance(condition, Group):
        if condition.kind == "not":
            return f"not ({describe(condition.parts[0])})"
        inner = [_nested(part) for part in condition.parts]
        return f" {'and' if condition.kind == 'all' else 'or'} ".join(inner)
    return "always"


def _nested(part: Condition) -> str:
    text = describe(part)
    return f"({text})" if isinstance(part, Group) and part.kind != "not" and len(part.parts) > 1 else text


# -- cells: a fact's domain cut where conditions can change their answer ------------------------------
_KIND: dict[str, Callable[[Any], Any]] = {"money": Decimal, "integer": int, "number": float}


@dataclass(frozen=True, slots=True)
class Cells:
    """A fact's domain cut into cells on each of which every test of the fact against the given
    constants has one truth value: what the index, lint and the invariant search all enumerate.

    Level and enum facts: one cell per value; boolean: false, true; string: each constant, then one
    string that is none of them, for every other string. Numeric facts: each threshold is a cell, and so is each open interval around them (cell
    ``2i + 1`` is ``values[i]``, cell ``2i`` the interval below it), reaching the fact's bounds when
    given (then a cell can be empty), else without end.
    """

    fact: Fact
    values: tuple[Any, ...]
    """The value of each cell, or for a numeric fact the thresholds, sorted, in the fact's own type
    (Decimal for money: it compares with Decimal twice as fast as int does)."""
    low: Any = None
    high: Any = None

    def __len__(self) -> int:
        return 2 * len(self.values) + 1 if self.fact.numeric else len(self.values)

    def cell(self, value: Any) -> int:
        """The cell of a numeric ``value``."""
        i = bisect_left(self.values, value)
        return 2 * i + 1 if i < len(self.values) and self.values[i] == value else 2 * i

    def interval(self, cell: int) -> tuple[Any, bool, Any, bool]:
        """A numeric cell as (low, low closed, high, high closed); an end is None where cells are unbounded."""
        i, is_point = divmod(cell, 2)
        if is_point:
            return self.values[i], True, self.values[i], True
        low, low_closed = (self.values[i - 1], False) if i else (self.low, self.low is not None)
        high, high_closed = (self.values[i], False) if i < len(self.values) else (self.high, self.high is not None)
        return low, low_closed, high, high_closed

    def empty(self, cell: int) -> bool:
        """True for a numeric cell that holds no value of the fact's type (between two bounds, or
        between neighbouring whole numbers of an integer fact)."""
        if not self.fact.numeric:
            return False
        low, low_closed, high, high_closed = self.interval(cell)
        if low is None or high is None:
            return False
        if self.fact.type == "integer":
            return bool((low if low_closed else low + 1) > (high if high_closed else high - 1))
        return bool(low > high or (low == high and not (low_closed and high_closed)))

    def representative(self, cell: int) -> Any:
        """A value in ``cell``: a closed end, a neighbour of an open one, else the midpoint."""
        if not self.fact.numeric:
            return self.values[cell]
        low, low_closed, high, high_closed = self.interval(cell)
        if low_closed:
            return low
        if high_closed:
            return high
        if low is None:
            return 0 if high is None else high - 1
        if high is None or (self.fact.type == "integer" and low + 1 < high):
            return low + 1
        return (low + high) / 2 if self.fact.type == "number" else (Decimal(low) + Decimal(high)) / 2

    def label(self, cell: int) -> Any:
        """How lint names a cell: its value, its interval, or None for a string's "any other string"."""
        if self.fact.numeric:
            return self.interval(cell)
        return None if self.fact.type == "string" and cell == len(self.values) - 1 else self.values[cell]


def domain_cells(fact: Fact, constants: Iterable[Any], bounds: tuple[Any, Any] | None = None) -> Cells:
    """``fact``'s domain cut at ``constants`` (the values its tests compare with), within ``bounds``
    for a numeric fact when given (constants outside them are dropped)."""
    if fact.finite:
        return Cells(fact, fact.values)
    if fact.type == "boolean":
        return Cells(fact, (False, True))
    if fact.type == "string":
        words = sorted(set(constants))
        other = "<other>"
        while other in words:
            other += "_"
        return Cells(fact, (*words, other))
    kind = _KIND[fact.type]
    if bounds is None:
        return Cells(fact, tuple(sorted({kind(value) for value in constants})))
    low, high = bounds
    return Cells(fact, tuple(sorted({kind(value) for value in constants if low <= value <= high})), low, high)


ALWAYS = Condition(())
"""The condition of a rule without ``when``."""


class ConditionCompiler:
    """Compiles condition data against known facts, collecting problems instead of stopping.

    Tests are immutable, so one compiler hands out one object for equal tests at the same place in
    their conditions (``severity at_least high`` as the first part of a thousand rules), and one tuple
    per path; operands come from ``keep``, one object per value as written, so their identity is
    their equality (5 and 5.0 stay apart).
    """

    def __init__(self, facts: Mapping[str, Fact], document: Document, problems: list[Problem], keep: Keeper | None = None) -> None:
        self.facts = facts
        self.document = document
        self.problems = problems
        self.keep = keep or Keeper()
        self._root = 0  # the length of the path of the condition being compiled (its parts' paths are relative)
        self._shared: dict[Any, Any] = {}  # paths and tests by what they are made of

    def fail(self, path: PathKey, message: str, code: str = "condition") -> None:
        self.problems.append(self.document.problem(path, message, code))

    def compile(self, data: Mapping[str, Any], path: PathKey) -> Condition:
        """The condition ``data`` written at ``path`` (problems are located there)."""
        self._root = len(path)
        return self._compile(data, path)

    def _compile(self, data: Mapping[str, Any], path: PathKey) -> Condition:
        parts: list[Condition | None] = []
        facts = self.facts
        for key, value in data.items():  # paths of the compiler's own strings (a fact's name, an operator), not the parser's
            if key == "all" or key == "any":
                kind = "all" if key == "all" else "any"
                here = path + (kind,)
                parts.append(Group(self._at(here), kind, tuple(self._compile(item, here + (i,)) for i, item in enumerate(value))))
            elif key == "not":
                here = path + ("not",)
                parts.append(Group(self._at(here), "not", (self._compile(value, here),)))
            elif key not in facts:
                self.fail(path + (key,), f"unknown fact {key!r}{did_you_mean(key, facts)}", "unknown-fact")
            elif isinstance(value, dict):
                fact = facts[key]
                for written, operand in value.items():
                    op: str = _OPERATORS.get(written) or written
                    parts.append(self.test(fact, op, operand, path + (fact.name, op)))
            else:
                fact = facts[key]
                parts.append(self.test(fact, "eq", value, path + (fact.name,)))
        made = [part for part in parts if part is not None]
        if not made:
            return ALWAYS
        return made[0] if len(made) == 1 else Group(self._at(path), "all", tuple(made))

    def _at(self, path: PathKey) -> PathKey:
        """``path`` relative to the condition's own, one tuple per path."""
        relative = path[self._root:]
        return self._shared.setdefault(relative, relative)  # type: ignore[no-any-return]

    def _leaf(self, fact: Fact, op: str, operand: Any, path: PathKey) -> Test:
        """A test of a valid operand (a tuple for ``in``, ``not_in`` and ``between``)."""
        relative = self._at(path)
        key = (relative, fact.name, op, *map(id, operand if operand.__class__ is tuple else (operand,)))
        found = self._shared.get(key)
        if found is None:
            if op in LEVEL_OPS:
                argument: Any = (fact.rank, fact.rank[operand])
            elif op in ("in", "not_in"):
                argument = frozenset(operand)
            else:
                argument = operand
            found = self._shared[key] = Test(relative, fact.name, op, operand, _COMPARE[op], argument)
        return found

    def test(self, fact: Fact, op: str, operand: Any, path: PathKey) -> Test | None:
        """One leaf: validate the operand for the fact's type and build its test."""
        if op in _SINGLE_OPS and op in _OPS_BY_TYPE.get(fact.type, ()) and _plain_operand(fact, operand):
            return self._leaf(fact, op, self.keep(operand), path)  # the common case, in short (thousands a policy)
        if op in LEVEL_OPS and fact.type != "level":
            hint = "use gte/lte" if fact.numeric else "it has no order"
            self.fail(path, f"{op} needs a level fact; {fact.name} is {fact.type} ({hint})", "operator")
            return None
        if op in ORDER_OPS and not fact.numeric:
            hint = "; use at_least/at_most" if fact.ordered else ""
            self.fail(path, f"{op} needs a money, integer or number fact; {fact.name} is {fact.type}{hint}", "operator")
            return None
        if op in ("in", "not_in"):
            values = [self.operand(fact, item, path + (i,)) for i, item in enumerate(operand)]
            if any(v is _INVALID for v in values):
                return None
            return self._leaf(fact, op, tuple(values), path)
        if op == "between":
            low, high = (self.operand(fact, item, path + (i,)) for i, item in enumerate(operand))
            if low is _INVALID or high is _INVALID:
                return None
            if low > high:
                self.fail(path, f"between needs low ≤ high; got [{low}, {high}]", "operator")
                return None
            return self._leaf(fact, op, (low, high), path)
        value = self.operand(fact, operand, path)
        if value is _INVALID:
            return None
        return self._leaf(fact, op, value, path)

    def operand(self, fact: Fact, value: Any, path: PathKey) -> Any:
        """``value`` converted to the fact's type, or ``_INVALID`` after recording why not."""
        if fact.finite:
            if isinstance(value, str) and value in fact.rank:
                return self.keep(value)
            hint = did_you_mean(value, fact.values) if isinstance(value, str) else ""
            kind = "a level" if fact.ordered else "a value"
            self.fail(path, f"{value!r} is not {kind} of {fact.name} ({', '.join(fact.values)}){hint}", "unknown-value")
            return _INVALID
        if fact.numeric and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            if fact.type == "integer" and isinstance(value, Decimal) and value != value.to_integral_value():
                self.fail(path, f"{fact.name} is an integer fact; {value} is not a whole number", "type-mismatch")
                return _INVALID
            return self.keep(float(value) if fact.type == "number" else value)
        if fact.type == "boolean" and isinstance(value, bool):
            return value
        if fact.type == "string" and isinstance(value, str):
            return self.keep(value)
        article = "an" if fact.type[0] in "aeiou" else "a"
        shown = repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        self.fail(path, f"{fact.name} is {article} {fact.type} fact; {shown} is not {fact.expected()}", "type-mismatch")
        return _INVALID


_INVALID: Any = object()

_SINGLE_OPS = frozenset(("eq", "ne", "gt", "gte", "lt", "lte", *LEVEL_OPS))
"""Operators with one operand."""
_OPS_BY_TYPE = {
    "level": frozenset((*SET_OPS, *LEVEL_OPS)), "enum": frozenset(SET_OPS), "boolean": frozenset(SET_OPS),
    "string": frozenset(SET_OPS), **dict.fromkeys(("money", "integer", "number"), frozenset((*SET_OPS, *ORDER_OPS))),
}
"""The operators each fact type takes."""


def _plain_operand(fact: Fact, operand: Any) -> bool:
    """True when ``operand`` is already a valid value of ``fact``, as ``operand()`` would return it."""
    kind, cls = fact.type, operand.__class__
    if cls is str:
        return operand in fact.rank if kind in ("level", "enum") else kind == "string"
    return cls is int and kind in ("integer", "money")


def _between(value: Any, bounds: tuple[Any, Any]) -> bool:
    return bool(bounds[0] <= value <= bounds[1])


def _at_least(value: Any, rank_and_target: tuple[Mapping[str, int], int]) -> bool:
    return rank_and_target[0][value] >= rank_and_target[1]


def _at_most(value: Any, rank_and_target: tuple[Mapping[str, int], int]) -> bool:
    return rank_and_target[0][value] <= rank_and_target[1]


def _in(value: Any, options: frozenset[Any]) -> bool:
    return value in options


def _not_in(value: Any, options: frozenset[Any]) -> bool:
    return value not in options


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
    "in": _in, "not_in": _not_in, "between": _between, "at_least": _at_least, "at_most": _at_most,
}
"""``compare(value, argument)`` by operator."""
_OPERATORS: dict[str, str] = {op: op for op in _COMPARE}
"""Each operator's name as this module spells it (so a compiled test keeps none of the parser's strings)."""
