"""First-hit matching that does not slow down as rules are added: a bitset index built at load.

Each rule's condition is split into *necessary parts on one fact* (the top-level ``all`` parts, or
any subtree, that read a single fact) and a *residual* (parts that read several facts). For every
fact we cut its domain into cells on which every part's truth is constant: the values of a level or
enum fact, the points and open intervals between the thresholds of a numeric fact, the constants of
a string fact plus "anything else". For each cell we store the bitset of rules whose parts on that
fact hold there. Matching ANDs one bitset per fact and takes the lowest set bit; only a rule with a
residual is then checked with its compiled condition. Cost grows with the number of facts, not rules
(big-int AND is a few machine words per 64 rules). ``tests/test_index.py`` proves it agrees with
evaluating the rules one by one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from .conditions import Condition, Facts, Group, Test
from .facts import Fact

Lookup = Callable[[Any], int]
_RANGE_OPS = {"gt", "gte", "lt", "lte", "eq", "between"}


def _single_fact_parts(condition: Condition) -> tuple[list[tuple[str, Condition]], bool]:
    """Split into (fact, part) pairs whose conjunction is necessary, and whether a residual remains."""
    if isinstance(condition, Group) and condition.kind == "all":
        parts: list[tuple[str, Condition]] = []
        residual = False
        for part in condition.parts:
            sub, sub_residual = _single_fact_parts(part)
            parts.extend(sub)
            residual = residual or sub_residual
        return parts, residual
    used = condition.facts_used()
    if not used:  # ``always``
        return [], False
    if len(used) == 1:
        return [(used[0], condition)], False
    return [], True


class _NumericCells:
    """Points at each threshold and the open intervals between them: cell 2i+1 is threshold i."""

    def __init__(self, thresholds: list[Any]) -> None:
        self.points = sorted(set(thresholds))
        self.position = {point: i for i, point in enumerate(self.points)}

    def __len__(self) -> int:
        return 2 * len(self.points) + 1

    def cell(self, value: Any) -> int:
        points = self.points
        i = bisect_left(points, value)
        return 2 * i + 1 if i < len(points) and points[i] == value else 2 * i

    def representative(self, cell: int) -> Any:
        points = self.points
        i, is_point = divmod(cell, 2)
        if is_point:
            return points[i]
        if not points:
            return 0
        if i == 0:
            return points[0] - 1
        if i == len(points):
            return points[-1] + 1
        low, high = points[i - 1], points[i]
        if isinstance(low, float) or isinstance(high, float):
            return (float(low) + float(high)) / 2
        return (Decimal(low) + Decimal(high)) / 2

    def span(self, part: Condition) -> tuple[int, int] | None:
        """Cells [first, last] where a conjunction of comparisons holds, or None if it is not one."""
        tests = part.tests()
        if not tests or not all(t.op in _RANGE_OPS for t in tests) or not _is_conjunction(part):
            return None
        first, last = 0, len(self) - 1
        for test in tests:
            operand = test.operand
            if test.op == "between":
                lo, hi = 2 * self.position[operand[0]] + 1, 2 * self.position[operand[1]] + 1
            else:
                at = 2 * self.position[operand] + 1
                lo, hi = {"gt": (at + 1, last), "gte": (at, last), "lt": (0, at - 1), "lte": (0, at), "eq": (at, at)}[test.op]
            first, last = max(first, lo), min(last, hi)
        return first, last


class FirstHitIndex:
    """Which of an ordered list of conditions hold for some facts: the first, or all of them."""

    def __init__(self, conditions: Sequence[Condition], facts: Mapping[str, Fact]) -> None:
        self.size = len(conditions)
        self.everything = (1 << self.size) - 1
        self.residual: dict[int, Callable[[Facts], bool]] = {}
        by_fact: dict[str, dict[int, list[Condition]]] = {}
        for i, condition in enumerate(conditions):
            parts, residual = _single_fact_parts(condition)
            if residual:
                self.residual[i] = condition.holds
            for name, part in parts:
                by_fact.setdefault(name, {}).setdefault(i, []).append(part)
        self.residual_bits = sum(1 << i for i in self.residual)
        self.lookups: tuple[tuple[str, Lookup], ...] = tuple(
            (name, self._lookup(facts[name], parts)) for name, parts in by_fact.items()
        )

    def _lookup(self, fact: Fact, by_rule: dict[int, list[Condition]]) -> Lookup:
        """A function from a fact value to the bitset of rules whose parts on this fact all hold."""
        parts = [(i, _conjunction(found)) for i, found in by_rule.items()]
        constrained = 0
        for i, _ in parts:
            constrained |= 1 << i
        free = self.everything & ~constrained
        name = fact.name
        if fact.numeric:
            cells = _NumericCells([op for _, part in parts for t in part.tests() for op in _operands(t)])
            masks = self._numeric_masks(cells, name, parts, free)
            points, count = cells.points, len(cells.points)

            def numeric(value: Any) -> int:  # cells.cell(), inlined: this runs on every decision
                i = bisect_left(points, value)
                return masks[2 * i + 1 if i < count and points[i] == value else 2 * i]

            return numeric
        if fact.finite:
            domain: list[Any] = list(fact.values)
        elif fact.type == "boolean":
            domain = [False, True]
        else:  # string: the constants the conditions mention, and one value none of them is
            domain = sorted({op for _, part in parts for t in part.tests() for op in _operands(t)})
        table: dict[Any, int] = {}
        for value in domain:
            mask = free
            for i, part in parts:
                if part.holds({name: value}):
                    mask |= 1 << i
            table[value] = mask
        if fact.type != "string":
            return table.__getitem__
        other = free
        for i, part in parts:
            if part.holds({name: _Unmentioned()}):
                other |= 1 << i
        return lambda value: table.get(value, other)

    def _numeric_masks(self, cells: _NumericCells, name: str, parts: list[tuple[int, Condition]], free: int) -> list[int]:
        """Per-cell bitsets: interval parts by a sweep of start/end events, others cell by cell.

        Neighbouring cells with the same bits share one int, which halves the memory of a large index.
        """
        count = len(cells)
        flips = [0] * (count + 1)
        extra: dict[int, int] = {}
        for i, part in parts:
            span = cells.span(part)
            if span is None:
                for cell in range(count):
                    if part.holds({name: cells.representative(cell)}):
                        extra[cell] = extra.get(cell, 0) | 1 << i
            elif span[0] <= span[1]:
                flips[span[0]] ^= 1 << i
                flips[span[1] + 1] ^= 1 << i
        masks: list[int] = []
        running, current, previous_extra = 0, free, 0
        for cell in range(count):
            flip, bits = flips[cell], extra.get(cell, 0)
            if flip:
                running ^= flip
            if flip or bits or previous_extra:
                current = free | running | bits
            masks.append(current)
            previous_extra = bits
        return masks

    def first(self, facts: Facts) -> int | None:
        """Position of the first condition that holds, or None."""
        return self.first_and_holding(facts, self.size)[0]

    def first_and_holding(self, facts: Facts, split: int) -> tuple[int | None, int]:
        """For conditions ``[0, split)`` read first-hit and ``[split, n)`` read as add-ons, in one pass:
        the position of the first of the former that holds (or None), and the bitset of the latter that
        hold (bit i for condition ``split + i``)."""
        mask = self.everything
        for name, lookup in self.lookups:
            mask &= lookup(facts[name])
        residual = self.residual
        rest = mask >> split
        if rest & (self.residual_bits >> split):
            for position, check in residual.items():
                if position >= split and rest >> (position - split) & 1 and not check(facts):
                    rest &= ~(1 << (position - split))
        first = mask & ((1 << split) - 1)
        while first:
            low = first & -first
            position = low.bit_length() - 1
            holds = residual.get(position)
            if holds is None or holds(facts):
                return position, rest
            first ^= low
        return None, rest


def _is_conjunction(condition: Condition) -> bool:
    """True for a test, or an ``all`` of conjunctions: the shapes whose cells form one interval."""
    if isinstance(condition, Test):
        return True
    return isinstance(condition, Group) and condition.kind == "all" and all(_is_conjunction(p) for p in condition.parts)


def _conjunction(parts: list[Condition]) -> Condition:
    """One condition that holds where all ``parts`` hold (they read the same single fact)."""
    if len(parts) == 1:
        return parts[0]
    checks = tuple(part.holds for part in parts)
    return Group(parts[0].path, lambda facts: all(check(facts) for check in checks), "all", tuple(parts))


class _Unmentioned(str):
    """A string equal to no constant in any condition (stands for 'any other string')."""

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return id(self)


def _operands(test: Test) -> list[Any]:
    operand = test.operand
    return list(operand) if isinstance(operand, tuple) else [operand]
