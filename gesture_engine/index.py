"""Matching that does not slow down as rules are added: one bitset index over a policy, built at load.

Each condition (a derived fact's table row, a first-hit rule, an add-on) is expanded into *terms*:
``any`` of ``all`` of *parts that read one fact* (``_terms``); a condition too tangled to expand
keeps its necessary single-fact parts and is checked whole when they hold (a *residual*). For every
fact we cut its domain into cells on which every part's truth is constant: the values of a level or
enum fact, the points and open intervals between the thresholds of a numeric fact, the constants of
a string fact plus "anything else". For each cell we store the bitset of terms whose parts on that
fact hold there. Matching ANDs one bitset per fact and takes the lowest set bit of a segment. Cost
grows with the number of facts, not rules (big-int AND is a few machine words per 64 terms).
``tests/test_index.py`` proves it agrees with evaluating the rules one by one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
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


MAX_TERMS = 16
"""A condition whose expansion into ``any`` of single-fact conjunctions needs more terms than this is
matched by its necessary single-fact parts and then checked whole (a *residual*)."""

Term = list[tuple[str, Condition]]


def _terms(condition: Condition) -> list[Term] | None:
    """The condition as ``any`` of terms, each an ``all`` of parts that read one fact; None if that
    takes more than MAX_TERMS terms or needs a ``not`` over several facts."""
    return _expand(condition)[0]


def _expand(condition: Condition) -> tuple[list[Term] | None, frozenset[str]]:
    """``_terms`` and the facts read, bottom-up in one pass (asking each subtree for its facts would
    walk it again at every level)."""
    if isinstance(condition, Test):
        return [[(condition.fact, condition)]], frozenset((condition.fact,))
    if not isinstance(condition, Group):  # ``always``
        return [[]], frozenset()
    expanded = [_expand(part) for part in condition.parts]
    used = frozenset().union(*(facts for _, facts in expanded))
    if len(used) <= 1:  # one fact however nested: a single part, cut into cells as a whole
        return ([[(next(iter(used)), condition)]] if used else [[]]), used
    if condition.kind == "not" or any(terms is None for terms, _ in expanded):
        return None, used
    if condition.kind == "any":
        flat = [term for terms, _ in expanded for term in terms or []]
        return (flat if len(flat) <= MAX_TERMS else None), used
    product: list[Term] = [[]]
    for terms, _ in expanded:
        product = [[*left, *right] for left in product for right in terms or []]
        if len(product) > MAX_TERMS:
            return None, used
    return product, used


class _NumericCells:
    """Points at each threshold and the open intervals between them: cell 2i+1 is threshold i."""

    def __init__(self, thresholds: list[Any], money: bool = False) -> None:
        # money values are Decimals, and Decimal compares with Decimal twice as fast as with int
        self.points = sorted({Decimal(point) if money and point.__class__ is int else point for point in thresholds})
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


class PolicyIndex:
    """Every table of a policy in one bitset index: the rows of each derived fact, in evaluation order,
    then the first-hit rules, then the add-ons.

    Each condition gets one bit per *term* (see ``_terms``): ``severity at_least high or tier eq gold``
    gets two, so it holds when either bit survives, and no condition over several facts needs
    checking by hand unless it is too tangled to expand. A condition's bits lie after those of every
    earlier condition, so the lowest surviving bit of a segment names the first condition that holds.
    One AND per fact serves every table at once: the complaint reader applies the input facts'
    lookups as it checks each field (:meth:`finite_table`, :meth:`bits_reader`, :meth:`locator`),
    :meth:`derive` fills in derived facts from their segments, and :meth:`fired_key` reads the rules'.
    """

    def __init__(self, derived: Sequence[tuple[str, Sequence[Condition], Sequence[str], str]], first: Sequence[Condition],
                 collect: Sequence[Condition], facts: Mapping[str, Fact]) -> None:
        conditions: list[Condition] = [row for _, rows, _, _ in derived for row in rows]
        rules_offset, split = len(conditions), len(first)
        conditions.extend(first)
        conditions.extend(collect)
        self._owner: list[int] = []  # bit -> the condition it is a term of
        starts: list[int] = []  # condition -> its first bit
        self._residual: dict[int, Callable[[Facts], bool]] = {}  # lowest-bit value -> whole-condition check
        by_fact: dict[str, dict[int, list[Condition]]] = {}
        for i, condition in enumerate(conditions):
            starts.append(len(self._owner))
            terms = _terms(condition)
            if terms is None:
                parts, _ = _single_fact_parts(condition)
                terms = [parts]
                self._residual[1 << len(self._owner)] = condition.holds
            for term in terms:
                bit = len(self._owner)
                self._owner.append(i)
                for name, part in term:
                    by_fact.setdefault(name, {}).setdefault(bit, []).append(part)
        starts.append(len(self._owner))
        self.everything = (1 << len(self._owner)) - 1
        self._facts = facts
        self._numeric_parts: dict[str, tuple[list[tuple[int, Condition]], int]] = {}
        self._lookups = {name: self._lookup(facts[name], parts) for name, parts in by_fact.items()}
        self._tables = {name: self._table(fact) for name, fact in facts.items() if fact.finite}
        plan = []
        row = 0
        for name, rows, results, default in derived:
            low, high = starts[row], starts[row + len(rows)]
            # lowest surviving bit -> value (0, no row holds -> default); rows with a residual are checked in order
            by_bit = {0: default, **{1 << bit: results[self._owner[bit] - row] for bit in range(low, high)}}
            checks = {bit: check for bit, check in self._residual.items() if 1 << low <= bit < 1 << high}
            plan.append((name, _span(low, high), by_bit, checks or None, self._tables[name]))
            row += len(rows)
        self._derived = tuple(plan)
        self._first_start, self._collect_start = starts[rules_offset], starts[rules_offset + split]
        self._first_bits = _span(self._first_start, self._collect_start)
        self._collect_bits = _span(self._collect_start, len(self._owner))
        self._first_offset, self._collect_offset = rules_offset, rules_offset + split
        self._plain = not any(bit >= 1 << self._first_start for bit in self._residual)  # no rule needs a check beyond its bits
        self._collect_checks = tuple((bit, check) for bit, check in self._residual.items() if bit >= 1 << self._collect_start)

    def finite_table(self, name: str) -> dict[str, int]:
        """Each value of a level or enum fact to the bits of the rows and rules it lets through."""
        return self._tables[name]

    def bits_reader(self, name: str) -> Lookup:
        """A fact value to the bits of the rows and rules it lets through (all bits if nothing reads the fact)."""
        return self._lookups.get(name, _ALL)

    def bits_of(self, name: str, value: Any) -> int:
        return self.bits_reader(name)(value)

    def locator(self, name: str, low: Any, above: Any) -> tuple[list[Any], list[int | None], bool]:
        """What a reader needs to check a numeric value's range and look it up with one bisect.

        Returns thresholds, bits per cell (None for values outside ``low <= value < above``) and whether
        ``bisect_right(thresholds, value)`` gives the cell directly. That holds when no threshold is
        a cell of its own (every comparison on the fact is ``gte``/``lt``-like, the usual case);
        otherwise cell ``2i + 1`` is threshold ``i`` and ``2i`` the interval below it.
        """
        parts, free = self._numeric_parts.get(name, ([], self.everything))
        thresholds = [op for _, part in parts for t in part.tests() for op in _operands(t)]
        cells = _NumericCells([*thresholds, low, above], self._facts[name].type == "money")
        masks: list[int | None] = list(self._numeric_masks(cells, name, parts, free))
        first, last = cells.cell(low), cells.cell(above)
        masks[:first] = [None] * first
        masks[last:] = [None] * (len(masks) - last)
        if all(masks[2 * k - 1] == masks[2 * k] for k in range(1, len(cells.points) + 1)):
            return cells.points, [masks[2 * k] for k in range(len(cells.points) + 1)], True
        return cells.points, masks, False

    def mask_of(self, facts: Facts, names: Iterable[str]) -> int:
        """The bits left once ``names`` (facts already in ``facts``) are looked up."""
        mask = self.everything
        for name in names:
            lookup = self._lookups.get(name)
            if lookup is not None:
                mask &= lookup(facts[name])
        return mask

    def derive(self, facts: dict[str, Any], mask: int) -> int:
        """Set every derived fact in ``facts`` from its segment of ``mask``, narrowing ``mask`` by each.

        ``mask`` must already hold the lookups of every input fact.
        """
        for name, bits, by_bit, checks, table in self._derived:
            rows = mask & bits
            if checks is None:
                value = by_bit[rows & -rows]
            else:
                value = by_bit[self._first_holding(rows, checks, facts)]
            facts[name] = value
            mask &= table[value]
        return mask

    def fired_key(self, facts: Facts, mask: int) -> int:
        """Which rules fire, as one int (see :meth:`fired`): the lowest surviving bit of the first-hit
        rules and the surviving bits of the add-ons, from a ``mask`` holding every fact's lookup."""
        first = mask & self._first_bits
        collect = mask & self._collect_bits
        if self._plain:
            return first & -first | collect
        for bit, check in self._collect_checks:
            if collect & bit and not check(facts):
                collect ^= bit
        return self._first_holding(first, self._residual, facts) | collect

    def fired(self, key: int) -> tuple[int | None, int]:
        """A :meth:`fired_key` read back: the first-hit rule's position (None if none holds) and the
        bitset of add-ons that hold (bit i for add-on i)."""
        first = key & self._first_bits
        position = self._owner[first.bit_length() - 1] - self._first_offset if first else None
        holding = 0
        collect = key & self._collect_bits
        while collect:
            low = collect & -collect
            holding |= 1 << (self._owner[low.bit_length() - 1] - self._collect_offset)
            collect ^= low
        return position, holding

    def match(self, facts: Facts, mask: int) -> tuple[int | None, int]:
        """:meth:`fired` of :meth:`fired_key`."""
        return self.fired(self.fired_key(facts, mask))

    @staticmethod
    def _first_holding(bits: int, checks: Mapping[int, Callable[[Facts], bool]], facts: Facts) -> int:
        """The lowest of ``bits`` whose condition holds once any residual is checked (0 if none)."""
        while bits:
            low = bits & -bits
            check = checks.get(low)
            if check is None or check(facts):
                return low
            bits ^= low
        return 0

    def _table(self, fact: Fact) -> dict[str, int]:
        lookup = self._lookups.get(fact.name)
        return {value: self.everything if lookup is None else lookup(value) for value in fact.values}

    def _lookup(self, fact: Fact, by_rule: dict[int, list[Condition]]) -> Lookup:
        """A function from a fact value to the bitset of rules whose parts on this fact all hold."""
        parts = [(i, _conjunction(found)) for i, found in by_rule.items()]
        constrained = 0
        for i, _ in parts:
            constrained |= 1 << i
        free = self.everything & ~constrained
        name = fact.name
        if fact.numeric:
            cells = _NumericCells([op for _, part in parts for t in part.tests() for op in _operands(t)], fact.type == "money")
            masks = self._numeric_masks(cells, name, parts, free)
            points, count = cells.points, len(cells.points)
            self._numeric_parts[name] = (parts, free)

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


def _span(low: int, high: int) -> int:
    """Bits ``low`` to ``high - 1``."""
    return ((1 << (high - low)) - 1) << low


def _all(value: Any) -> int:
    return -1


_ALL: Lookup = _all
"""The lookup of a fact no condition reads: every bit."""


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
