"""The condition language: structured data compiled once into small callables.

A condition is a mapping. Each fact key holds a scalar (equality) or a mapping of operators, all of
which must hold; several keys in one mapping must all hold; ``all``/``any``/``not`` combine
conditions. Operators: ``eq ne in not_in`` for every type but lists, ``gt gte lt lte between`` for
money, integer, number, duration, date and datetime facts, ``at_least at_most`` for level facts,
``within``/``older_than`` with ``of`` for date and datetime facts (how long before another moment),
and ``contains contains_any contains_all empty`` for list facts. Operands are checked against the
fact's declared type and values at load time, so evaluation never meets a surprise. A single operand
may name another fact instead (``reroute_delay: {lte: {fact: allowed_delay}}``): a :class:`Compare`,
allowed between facts whose values compare (see :func:`comparable`).
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import combinations
from typing import Any

from gesture_engine.engine.facts import TIME_TYPES, Fact, FactValue, did_you_mean
from gesture_engine.errors import Problem
from gesture_engine.load.source import Document, Keeper, PathKey
from gesture_engine.timevalues import DURATION_LIMIT, UTC, age, format_datetime, format_span, parse_date, parse_datetime, parse_span

Facts = Mapping[str, FactValue]

COMBINATORS = ("all", "any", "not")
ORDER_OPS = ("gt", "gte", "lt", "lte", "between")
LEVEL_OPS = ("at_least", "at_most")
SET_OPS = ("eq", "ne", "in", "not_in")
LIST_OPS = ("contains", "contains_any", "contains_all", "empty")
RELATIVE_OPS = ("within", "older_than")
REFERENCE = "received_at"
"""The envelope field relative tests may name with ``of`` (besides a date or datetime fact)."""


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
        """Facts this condition reads, in first-mention order (a comparison reads its other fact too, a
        relative test its ``of``)."""
        return tuple(dict.fromkeys([name for test in self.tests() for name in test.facts_used()]))

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


@dataclass(frozen=True, slots=True)
class FactRef:
    """An operand naming another fact: ``{fact: allowed_delay}`` as written."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, eq=False, slots=True)
class Compare(Test):
    """One fact compared with another: ``reroute_delay lte allowed_delay``.

    It reads two values, so the index checks it whole (a residual) and lint bounds it (it may hold or
    not on a cell); ``operand`` is the other fact as a :class:`FactRef`, ``argument`` the key both
    values are compared by (a level's rank; None: the values themselves).
    """

    other: str = ""

    def holds(self, facts: Facts) -> bool:
        left, right = facts[self.fact], facts[self.other]
        key = self.argument
        if key is not None:
            return bool(self.compare(key[left], key[right]))
        return bool(self.compare(left, right))

    def facts_used(self) -> tuple[str, ...]:
        return (self.fact, self.other)

    @property
    def constants(self) -> tuple[Any, ...]:
        """None: a comparison cuts neither fact into cells by itself."""
        return ()


@dataclass(frozen=True, eq=False, slots=True)
class Relative(Test):
    """How long before another moment a date or datetime fact lies: ``order_date within 30d of received_at``.

    It reads two values (the fact and ``of``: ``received_at`` or another date/datetime fact), so the
    index checks it whole (a residual), and lint treats it as a condition of its own. False when
    ``of`` is not given (``received_at`` may be absent) and for a fact after the moment it is measured from.
    """

    of: str = ""

    def holds(self, facts: Facts) -> bool:
        reference = facts.get(self.of)
        if reference is None:
            return False
        return bool(self.compare(age(facts[self.fact], reference), self.argument))  # type: ignore[arg-type]

    def facts_used(self) -> tuple[str, ...]:
        return (self.fact, self.of)

    def describe(self) -> str:
        return f"{self.fact} {self.op} {show(self.operand)} of {self.of}"

    @property
    def constants(self) -> tuple[Any, ...]:
        """None on the fact's own line: a relative test cuts no date into cells."""
        return ()


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
    """A fact value or operand as people write it: ``true``, ``12.50``, ``[email, phone]``, ``2h30m``,
    ``2026-11-23``, ``2026-11-23T09:30:00Z``."""
    if value.__class__ is str:
        return value
    if isinstance(value, str):  # a subclass, e.g. a (str, Enum) member: its value ("high"), not its str() ("S.high")
        return str.__str__(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(item) for item in value) + "]"
    if isinstance(value, timedelta):
        return format_span(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if value is None:
        return "not given"
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
def _same(value: Any) -> Any:
    return value


_KIND: dict[str, Callable[[Any], Any]] = {"money": Decimal, "integer": int, "number": Decimal, **dict.fromkeys(TIME_TYPES, _same)}
_STEP: dict[str, Any] = {"integer": 1, "duration": timedelta(seconds=1), "date": timedelta(days=1)}
"""The gap between neighbouring values of a type whose values are whole steps apart."""
_UNIT: dict[str, Any] = {"integer": 1, "money": 1, "number": 1, "duration": timedelta(seconds=1), "date": timedelta(days=1),
                         "datetime": timedelta(days=1)}
"""Some value below an open upper end, when a cell reaches without end below it."""
_ORIGIN: dict[str, Any] = {"integer": 0, "money": 0, "number": 0, "duration": timedelta(0), "date": date(2000, 1, 1),
                           "datetime": datetime(2000, 1, 1, tzinfo=UTC)}
"""A value for a cell without any end (no test cuts the fact)."""
_TIME_BOUNDS: dict[str, tuple[Any, Any]] = {
    "duration": (timedelta(0), DURATION_LIMIT), "date": (date.min, date.max),
    "datetime": (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)),
}
"""Durations, dates and datetimes are always cut within the values they can take."""
LIST_ATOMS = 10
"""Lint and the invariant search cut a list fact into every combination of the values its tests name
(plus one other) up to this many values; past it, lint takes each list test as a condition of its own."""


@dataclass(frozen=True, slots=True)
class Cells:
    """A fact's domain cut into cells on each of which every test of the fact against the given
    constants has one truth value: what the index, lint and the invariant search all enumerate.

    Level and enum facts: one cell per value; boolean: false, true; string: each constant, then one
    string that is none of them, for every other string. List facts: one cell per combination of the
    values the tests name and one value they do not (:func:`list_atoms`). Numeric, duration, date and
    datetime facts: each threshold is a cell, and so is each open interval around them (cell
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
        return 2 * len(self.values) + 1 if self.fact.linear else len(self.values)

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
        between neighbouring whole numbers of an integer fact, seconds of a duration, days of a date)."""
        if not self.fact.linear:
            return False
        low, low_closed, high, high_closed = self.interval(cell)
        if low is None or high is None:
            return False
        step = _STEP.get(self.fact.type)
        if step is not None:
            return bool((low if low_closed else low + step) > (high if high_closed else high - step))
        return bool(low > high or (low == high and not (low_closed and high_closed)))

    def representative(self, cell: int) -> Any:
        """A value in ``cell``: a closed end, a neighbour of an open one, else the midpoint."""
        if not self.fact.linear:
            return self.values[cell]
        low, low_closed, high, high_closed = self.interval(cell)
        if low_closed:
            return low
        if high_closed:
            return high
        kind = self.fact.type
        step = _STEP.get(kind)
        if low is None:
            return _ORIGIN[kind] if high is None else high - _UNIT[kind]
        if high is None:
            return low + _UNIT[kind]
        if step is not None and low + step < high:
            return low + step
        if kind == "number":
            return (low + high) / 2
        if kind in TIME_TYPES:  # for a duration or date: an empty cell, which no value reaches
            return low + (high - low) / 2
        return (Decimal(low) + Decimal(high)) / 2

    def label(self, cell: int) -> Any:
        """How lint names a cell: its value, its interval, or None for a string's "any other string"."""
        if self.fact.linear:
            return self.interval(cell)
        return None if self.fact.type == "string" and cell == len(self.values) - 1 else self.values[cell]


def list_atoms(fact: Fact, constants: Iterable[Any]) -> tuple[str, ...]:
    """The values a list fact's tests name, and one they do not (when the fact has one): on each
    combination of these every list test has one truth value. In the fact's canonical order."""
    named = {value for value in constants if isinstance(value, str)}
    if fact.values:
        others = [value for value in fact.values if value not in named]
        return tuple(value for value in fact.values if value in named or (others and value == others[0]))
    other = "<other>"
    while other in named:
        other += "_"
    return tuple(sorted({*named, other}))


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
    if fact.type == "list":
        atoms = list_atoms(fact, constants)
        subsets = [chosen for size in range(len(atoms) + 1) for chosen in combinations(atoms, size)]
        return Cells(fact, tuple(subsets))
    kind = _KIND[fact.type]
    if bounds is None:
        bounds = _TIME_BOUNDS.get(fact.type)
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
                here = path + (fact.name,)
                for written, operand in value.items():
                    op: str = _OPERATORS.get(written) or written
                    if op == "of":
                        if not any(relative in value for relative in RELATIVE_OPS):
                            self.fail(here + (op,), "'of' goes with within or older_than", "operator")
                        continue
                    test = self.test(fact, op, operand, here + (op,))
                    if isinstance(test, Relative):
                        test = self.relative(test, value.get("of"), here)
                    parts.append(test)
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
        """A test of a valid operand (a tuple for ``in``, ``not_in``, ``contains_any``, ``contains_all``
        and ``between``)."""
        relative = self._at(path)
        key = (relative, fact.name, op, *map(id, operand if operand.__class__ is tuple else (operand,)))
        found = self._shared.get(key)
        if found is None:
            if op in LEVEL_OPS:
                argument: Any = (fact.rank, fact.rank[operand])
            elif op in ("in", "not_in", "contains_any", "contains_all"):
                argument = frozenset(operand)
            else:
                argument = operand
            found = self._shared[key] = Test(relative, fact.name, op, operand, _COMPARE[op], argument)
        return found

    def test(self, fact: Fact, op: str, operand: Any, path: PathKey) -> Test | None:
        """One leaf: validate the operand for the fact's type and build its test."""
        if isinstance(operand, dict):
            return self.compare(fact, op, operand, path)
        if op in _SINGLE_OPS and op in _OPS_BY_TYPE.get(fact.type, ()) and _plain_operand(fact, operand):
            return self._leaf(fact, op, self.keep(operand), path)  # the common case, in short (thousands a policy)
        if op not in _OPS_BY_TYPE.get(fact.type, ()):
            self.fail(path, _wrong_operator(fact, op), "operator")
            return None
        if op in ("in", "not_in", "contains_any", "contains_all"):
            values = [self.operand(fact, item, path + (i,)) for i, item in enumerate(operand)]
            if any(v is _INVALID for v in values):
                return None
            if op.startswith("contains") and len(set(values)) != len(values):
                self.fail(path, f"{op} names a value twice", "operator")
                return None
            return self._leaf(fact, op, tuple(values), path)
        if op == "between":
            low, high = (self.operand(fact, item, path + (i,)) for i, item in enumerate(operand))
            if low is _INVALID or high is _INVALID:
                return None
            if low > high:
                self.fail(path, f"between needs low ≤ high; got [{show(low)}, {show(high)}]", "operator")
                return None
            return self._leaf(fact, op, (low, high), path)
        if op == "empty":
            if not isinstance(operand, bool):
                self.fail(path, f"empty takes true or false; got {operand!r}", "type-mismatch")
                return None
            return self._leaf(fact, op, operand, path)
        if op in RELATIVE_OPS:
            span = parse_span(operand) if isinstance(operand, str) else None
            if span is None:
                self.fail(path, f"{op} takes a duration like 30d, 12h or P30D; got {operand!r}", "type-mismatch")
                return None
            return Relative(self._at(path), fact.name, op, span, _COMPARE[op], span)
        value = self.operand(fact, operand, path)
        if value is _INVALID:
            return None
        return self._leaf(fact, op, value, path)

    def compare(self, fact: Fact, op: str, operand: Mapping[str, Any], path: PathKey) -> Compare | None:
        """``fact op {fact: other}``: both facts known, the operator one they both take, their types comparable."""
        other_name = operand.get("fact")
        if set(operand) != {"fact"} or not isinstance(other_name, str):
            self.fail(path, f"an operand mapping names another fact: {{fact: name}}; got {show(list(operand))}", "operator")
            return None
        other = self.facts.get(other_name)
        if other is None:
            hint = (f" ({REFERENCE} is not a fact: measure from it with within/older_than and of: {REFERENCE})"
                    if other_name == REFERENCE else did_you_mean(other_name, self.facts))
            self.fail(path + ("fact",), f"unknown fact {other_name!r}{hint}", "unknown-fact")
            return None
        if op not in COMPARE_OPS:
            self.fail(path, f"{op} cannot compare with another fact; use one of {', '.join(COMPARE_OPS)}", "operator")
            return None
        if op not in _OPS_BY_TYPE[fact.type]:
            self.fail(path, _wrong_operator(fact, op), "operator")
            return None
        if other.name == fact.name:
            self.fail(path + ("fact",), f"{fact.name} compared with itself", "operator")
            return None
        why = comparable(fact, other)
        if why:
            self.fail(path + ("fact",), f"{fact.name} ({fact.type}) cannot be compared with {other.name} ({other.type}): {why}", "type-mismatch")
            return None
        key = fact.rank if fact.ordered and op not in ("eq", "ne") else None
        compare = {"at_least": operator.ge, "at_most": operator.le}.get(op, _COMPARE[op])
        return Compare(self._at(path), fact.name, op, FactRef(other.name), compare, key, other.name)

    def relative(self, test: Relative, of: Any, path: PathKey) -> Relative | None:
        """``test`` measured from ``of``: ``received_at``, or another date or datetime fact."""
        if of is None:
            self.fail(path + (test.op,), f"{test.op} needs 'of': the moment it is measured from, e.g. of: {REFERENCE}", "operator")
            return None
        if of == REFERENCE:
            return replace(test, of=REFERENCE)
        other = self.facts.get(of) if isinstance(of, str) else None
        if other is None or other.type not in ("date", "datetime") or of == test.fact:
            choices = [REFERENCE, *(name for name, f in self.facts.items() if f.type in ("date", "datetime") and name != test.fact)]
            hint = did_you_mean(of, choices) if isinstance(of, str) else ""
            self.fail(path + ("of",), f"'of' names {REFERENCE} or another date or datetime fact ({', '.join(choices)}); got {of!r}{hint}",
                      "unknown-fact")
            return None
        return replace(test, of=other.name)

    def operand(self, fact: Fact, value: Any, path: PathKey) -> Any:
        """``value`` converted to the fact's type, or ``_INVALID`` after recording why not."""
        if fact.finite or fact.closed:
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
            return self.keep(Decimal(value) if fact.type == "number" else value)
        if fact.type == "boolean" and isinstance(value, bool):
            return value
        if isinstance(value, str) and (fact.type == "string" or (fact.type == "list" and value)):
            return self.keep(value)
        if fact.type in TIME_TYPES and isinstance(value, str):
            parsed = _TIME_PARSERS[fact.type](value)
            if parsed is not None:
                return parsed
            if fact.type == "datetime" and parse_date(value) is not None:
                self.fail(path, f"{fact.name} is a datetime fact; {value!r} has no time and timezone (e.g. {value}T00:00:00Z)",
                          "type-mismatch")
                return _INVALID
        article = "an" if fact.type[0] in "aeiou" else "a"
        shown = repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        expected = "a value of the list" if fact.type == "list" else fact.expected()
        self.fail(path, f"{fact.name} is {article} {fact.type} fact; {shown} is not {expected}", "type-mismatch")
        return _INVALID


def comparable(fact: Fact, other: Fact) -> str:
    """Why ``fact`` cannot be compared with ``other`` (empty when it can): money with money, integer and
    number with each other, a level with a level of the same values, other types with their own type
    (a duration with a duration, a date with a date, a datetime with a datetime)."""
    if fact.numeric or other.numeric:
        if fact.numeric and other.numeric and (fact.type == "money") == (other.type == "money"):
            return ""
        return "money compares with money, integer and number with each other"
    if fact.type != other.type:
        return "the facts must have the same type"
    if fact.ordered and fact.values != other.values:
        return "levels compare only with the same levels in the same order"
    if fact.finite and not set(fact.values) & set(other.values):
        return "they have no value in common"
    return ""


COMPARE_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", *LEVEL_OPS)
"""Operators that may name another fact as their operand."""


def _wrong_operator(fact: Fact, op: str) -> str:
    """Why ``op`` does not apply to ``fact``, with what to use instead."""
    takes = ", ".join(sorted(_OPS_BY_TYPE[fact.type]))
    if op in LEVEL_OPS:
        hint = "use gte/lte" if fact.linear else "it has no order"
        return f"{op} needs a level fact; {fact.name} is {fact.type} ({hint})"
    if op in ORDER_OPS:
        hint = "; use at_least/at_most" if fact.ordered else ""
        return f"{op} needs a money, integer, number, duration, date or datetime fact; {fact.name} is {fact.type}{hint}"
    if op in RELATIVE_OPS:
        return f"{op} needs a date or datetime fact; {fact.name} is {fact.type}"
    if op in LIST_OPS:
        return f"{op} needs a list fact; {fact.name} is {fact.type}"
    if fact.type == "list":
        return f"{op} does not apply to a list fact; {fact.name} takes {takes}"
    return f"unknown operator {op!r}{did_you_mean(op, _OPS_BY_TYPE[fact.type])}; {fact.name} takes {takes}"


_TIME_PARSERS: dict[str, Callable[[str], Any]] = {"duration": parse_span, "date": parse_date, "datetime": parse_datetime}
_INVALID: Any = object()

_SINGLE_OPS = frozenset(("eq", "ne", "gt", "gte", "lt", "lte", *LEVEL_OPS))
"""Operators with one operand."""
_ORDERED = frozenset((*SET_OPS, *ORDER_OPS))
_OPS_BY_TYPE = {
    "level": frozenset((*SET_OPS, *LEVEL_OPS)), "enum": frozenset(SET_OPS), "boolean": frozenset(SET_OPS),
    "string": frozenset(SET_OPS), **dict.fromkeys(("money", "integer", "number", "duration"), _ORDERED),
    **dict.fromkeys(("date", "datetime"), _ORDERED | frozenset(RELATIVE_OPS)), "list": frozenset(LIST_OPS),
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


def _contains(items: tuple[str, ...], wanted: str) -> bool:
    return wanted in items


def _contains_any(items: tuple[str, ...], wanted: frozenset[str]) -> bool:
    return not wanted.isdisjoint(items)


def _contains_all(items: tuple[str, ...], wanted: frozenset[str]) -> bool:
    return wanted.issubset(items)


def _empty(items: tuple[str, ...], wanted: bool) -> bool:
    return (not items) == wanted


def _within(elapsed: timedelta, span: timedelta) -> bool:
    return _ZERO <= elapsed <= span


def _older_than(elapsed: timedelta, span: timedelta) -> bool:
    return elapsed > span


_ZERO = timedelta(0)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
    "in": _in, "not_in": _not_in, "between": _between, "at_least": _at_least, "at_most": _at_most,
    "contains": _contains, "contains_any": _contains_any, "contains_all": _contains_all, "empty": _empty,
    "within": _within, "older_than": _older_than,
}
"""``compare(value, argument)`` by operator."""
_OPERATORS: dict[str, str] = {op: op for op in (*_COMPARE, "of")}
"""Each operator's name as this module spells it (so a compiled test keeps none of the parser's strings)."""
