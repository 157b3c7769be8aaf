"""The condition language: structured data compiled once into small callables.

A condition is a mapping. Each fact key holds a scalar (equality) or a mapping of operators, all of
which must hold; several keys in one mapping must all hold; ``all``/``any``/``not`` combine
conditions. Operators: ``eq ne in not_in`` for every type, ``gt gte lt lte between`` for money,
integer and number facts, ``at_least at_most`` for level facts. Operands are checked against the
fact's declared type and values at load time, so evaluation never meets a surprise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import Problem
from .facts import Fact, FactValue, did_you_mean
from .loader import Document, PathKey

Facts = Mapping[str, FactValue]
Check = Callable[[Any], bool]

COMBINATORS = ("all", "any", "not")
ORDER_OPS = ("gt", "gte", "lt", "lte", "between")
LEVEL_OPS = ("at_least", "at_most")
SET_OPS = ("eq", "ne", "in", "not_in")


@dataclass(frozen=True, eq=False)
class Condition:
    """A compiled condition; ``holds(facts)`` is the hot path, the rest serves explanations."""

    path: PathKey
    holds: Callable[[Facts], bool]

    def facts_used(self) -> tuple[str, ...]:
        """Facts this condition reads, in first-mention order."""
        return tuple(dict.fromkeys([test.fact for test in self.tests()]))

    def tests(self) -> tuple[Test, ...]:
        return ()

    def first_failure(self, facts: Facts) -> Test | None:
        """A leaf test that makes this condition false (None when it holds)."""
        return None


@dataclass(frozen=True, eq=False)
class Test(Condition):
    """One fact compared with one operand, e.g. ``severity at_least high``."""

    fact: str
    op: str
    operand: Any

    def tests(self) -> tuple[Test, ...]:
        return (self,)

    def facts_used(self) -> tuple[str, ...]:
        return (self.fact,)

    def first_failure(self, facts: Facts) -> Test | None:
        return None if self.holds(facts) else self

    def describe(self) -> str:
        return f"{self.fact} {self.op} {show(self.operand)}"


@dataclass(frozen=True, eq=False)
class Group(Condition):
    """``all``/``any``/``not`` over parts (``not`` has one part)."""

    kind: str
    parts: tuple[Condition, ...]

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


def always(path: PathKey) -> Condition:
    """The condition of a rule without ``when``."""
    return Condition(path, lambda facts: True)


def _all_of(parts: list[Condition]) -> Callable[[Facts], bool]:
    checks = tuple(part.holds for part in parts)
    return lambda facts: all(check(facts) for check in checks)


def _any_of(parts: list[Condition]) -> Callable[[Facts], bool]:
    checks = tuple(part.holds for part in parts)
    return lambda facts: any(check(facts) for check in checks)


def _not(part: Condition) -> Callable[[Facts], bool]:
    check = part.holds
    return lambda facts: not check(facts)


def _all(path: PathKey, parts: list[Condition]) -> Condition:
    if len(parts) == 1:
        return parts[0]
    return Group(path, _all_of(parts), "all", tuple(parts))


class ConditionCompiler:
    """Compiles condition data against known facts, collecting problems instead of stopping."""

    def __init__(self, facts: Mapping[str, Fact], document: Document, problems: list[Problem]) -> None:
        self.facts = facts
        self.document = document
        self.problems = problems

    def fail(self, path: PathKey, message: str, code: str = "condition") -> None:
        self.problems.append(self.document.problem(path, message, code))

    def compile(self, data: Mapping[str, Any], path: PathKey) -> Condition:
        parts: list[Condition] = []
        for key, value in data.items():
            here = path + (key,)
            if key in ("all", "any"):
                subs = [self.compile(item, here + (i,)) for i, item in enumerate(value)]
                parts.append(Group(here, _all_of(subs) if key == "all" else _any_of(subs), key, tuple(subs)))
            elif key == "not":
                inner = self.compile(value, here)
                parts.append(Group(here, _not(inner), "not", (inner,)))
            elif key not in self.facts:
                self.fail(here, f"unknown fact {key!r}{did_you_mean(key, self.facts)}", "unknown-fact")
            elif isinstance(value, dict):
                for op, operand in value.items():
                    test = self.test(self.facts[key], op, operand, here + (op,))
                    if test is not None:
                        parts.append(test)
            else:
                test = self.test(self.facts[key], "eq", value, here)
                if test is not None:
                    parts.append(test)
        if not parts:
            return always(path)
        return _all(path, parts)

    def test(self, fact: Fact, op: str, operand: Any, path: PathKey) -> Test | None:
        """One leaf: validate the operand for the fact's type and build its check."""
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
            options = frozenset(values)
            check: Check = (lambda v: v in options) if op == "in" else (lambda v: v not in options)
            return self._leaf(fact, op, tuple(values), path, check)
        if op == "between":
            low, high = (self.operand(fact, item, path + (i,)) for i, item in enumerate(operand))
            if low is _INVALID or high is _INVALID:
                return None
            if low > high:
                self.fail(path, f"between needs low ≤ high; got [{low}, {high}]", "operator")
                return None
            return self._leaf(fact, op, (low, high), path, lambda v: low <= v <= high)
        value = self.operand(fact, operand, path)
        if value is _INVALID:
            return None
        if op in LEVEL_OPS:
            rank, target = fact.rank, fact.rank[value]
            check = (lambda v: rank[v] >= target) if op == "at_least" else (lambda v: rank[v] <= target)
        else:
            check = _COMPARE[op](value)
        return self._leaf(fact, op, value, path, check)

    def _leaf(self, fact: Fact, op: str, operand: Any, path: PathKey, check: Check) -> Test:
        name = fact.name
        return Test(path, lambda facts: check(facts[name]), name, op, operand)

    def operand(self, fact: Fact, value: Any, path: PathKey) -> Any:
        """``value`` converted to the fact's type, or ``_INVALID`` after recording why not."""
        if fact.finite:
            if isinstance(value, str) and value in fact.rank:
                return value
            hint = did_you_mean(value, fact.values) if isinstance(value, str) else ""
            kind = "a level" if fact.ordered else "a value"
            self.fail(path, f"{value!r} is not {kind} of {fact.name} ({', '.join(fact.values)}){hint}", "unknown-value")
            return _INVALID
        if fact.numeric and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            if fact.type == "integer" and isinstance(value, Decimal) and value != value.to_integral_value():
                self.fail(path, f"{fact.name} is an integer fact; {value} is not a whole number", "type-mismatch")
                return _INVALID
            return float(value) if fact.type == "number" else value
        if fact.type == "boolean" and isinstance(value, bool):
            return value
        if fact.type == "string" and isinstance(value, str):
            return value
        article = "an" if fact.type[0] in "aeiou" else "a"
        shown = repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        self.fail(path, f"{fact.name} is {article} {fact.type} fact; {shown} is not {fact.expected()}", "type-mismatch")
        return _INVALID


_INVALID: Any = object()

_COMPARE: dict[str, Callable[[Any], Check]] = {
    "eq": lambda x: lambda v: v == x,
    "ne": lambda x: lambda v: v != x,
    "gt": lambda x: lambda v: v > x,
    "gte": lambda x: lambda v: v >= x,
    "lt": lambda x: lambda v: v < x,
    "lte": lambda x: lambda v: v <= x,
}
"""Comparison checks by operator, each closing over its operand."""
