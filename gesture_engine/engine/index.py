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

from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from gesture_engine.engine.conditions import Cells, Condition, Facts, Group, Test, domain_cells
from gesture_engine.engine.facts import Fact

Lookup = Callable[[Any], int]
_set = dict.__setitem__


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


def _expand(condition: Condition) -> tuple[list[Term] | None, set[str]]:
    """``_terms`` and the facts read, bottom-up in one pass (asking each subtree for its facts would
    walk it again at every level). A test, the usual part, joins the terms as it is: no expansion."""
    if isinstance(condition, Test):
        if condition.__class__ is not Test:  # reads two values (a comparison of two facts, a relative test): checked whole
            return None, set(condition.facts_used())
        return [[(condition.fact, condition)]], {condition.fact}
    if not isinstance(condition, Group):  # ``always``
        return [[]], set()
    used: set[str] = set()
    subs: list[tuple[str, Condition] | list[Term] | None] = []  # a test as its (fact, test) pair, else its terms
    for part in condition.parts:
        if part.__class__ is Test:
            used.add(part.fact)
            subs.append((part.fact, part))
        else:
            terms, facts = _expand(part)
            used |= facts
            subs.append(terms)
    if len(used) <= 1:  # one fact however nested: a single part, cut into cells as a whole
        return ([[(next(iter(used)), condition)]] if used else [[]]), used
    if condition.kind == "not" or None in subs:
        return None, used
    if condition.kind == "any":
        flat = [term for sub in subs for term in ([[sub]] if isinstance(sub, tuple) else sub or [])]
        return (flat if len(flat) <= MAX_TERMS else None), used
    product: list[Term] = [[]]
    for sub in subs:
        if isinstance(sub, tuple):  # a test: one more part in every term (this loop made each term, so may extend it)
            for term in product:
                term.append(sub)
            continue
        product = [[*left, *right] for left in product for right in sub or []]
        if len(product) > MAX_TERMS:
            return None, used
    return product, used


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

    def __init__(self, derived: Sequence[tuple[str, Sequence[Condition], Sequence[Any], Any]], first: Sequence[Condition],
                 collect: Sequence[Condition], facts: Mapping[str, Fact]) -> None:
        conditions: list[Condition] = [row for _, rows, _, _ in derived for row in rows]
        rules_offset, split = len(conditions), len(first)
        conditions.extend(first)
        conditions.extend(collect)
        self._owner: list[int] = []  # bit -> the condition it is a term of
        starts: list[int] = []  # condition -> its first bit
        self._residual: dict[int, Callable[[Facts], bool]] = {}  # lowest-bit value -> whole-condition check
        by_fact: defaultdict[str, dict[int, list[Condition]]] = defaultdict(dict)  # fact -> bit -> its parts on the fact
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
                    found = by_fact[name].get(bit)
                    if found is None:
                        by_fact[name][bit] = [part]
                    else:
                        found.append(part)
        starts.append(len(self._owner))
        self.everything = (1 << len(self._owner)) - 1
        self._facts = facts
        self._numeric: dict[str, tuple[Cells, list[int] | CellBits]] = {}  # numeric fact -> its cells and their bits
        self._lookups = {name: self._lookup(facts[name], parts) for name, parts in by_fact.items()}
        self._tables = {name: self._table(fact) for name, fact in facts.items() if fact.finite}
        # a derived value to the bits it lets through: a table for a level or enum, the numeric lookup else
        narrow = {name: self._tables[name].__getitem__ if name in self._tables else self.bits_reader(name) for name, _, _, _ in derived}
        plan = []
        row = 0
        for name, rows, results, default in derived:
            low, high = starts[row], starts[row + len(rows)]
            # lowest surviving bit -> value (0, no row holds -> default); rows with a residual are checked in order
            by_bit = {0: default, **{1 << bit: results[self._owner[bit] - row] for bit in range(low, high)}}
            checks = {bit: check for bit, check in self._residual.items() if 1 << low <= bit < 1 << high}
            plan.append((name, _span(low, high), by_bit, checks or None, narrow[name]))
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

    def locator(self, name: str, low: Any, above: Any) -> tuple[list[Any], list[int | None] | _Window, bool]:
        """What a reader needs to check a numeric value's range and look it up with one bisect.

        Returns thresholds, bits per cell (None for values outside ``low <= value < above``) and whether
        ``bisect_right(thresholds, value)`` gives the cell directly. That holds when no threshold is
        a cell of its own (every comparison on the fact is ``gte``/``lt``-like, the usual case);
        otherwise cell ``2i + 1`` is threshold ``i`` and ``2i`` the interval below it.
        """
        fact = self._facts[name]
        base, bits = self._numeric.get(name, (domain_cells(fact, ()), [self.everything]))
        split = domain_cells(fact, [*base.values, low, above])
        points = list(split.values)
        cells: list[int] = []  # each new cell lies inside one cell of the lookup's: it has the same bits
        for point in points:
            cell = base.cell(point)
            cells.append(cell - (cell & 1))
            cells.append(cell)
        cells.append(len(bits) - 1)
        first, last = split.cell(low), split.cell(above)
        cells[:first] = [-1] * first  # -1: outside the range, None
        cells[last:] = [-1] * (len(cells) - last)
        if all(_same_bits(bits, cells[2 * k - 1], cells[2 * k]) for k in range(1, len(points) + 1)):
            cells = cells[::2]
        direct = len(cells) == len(points) + 1
        if isinstance(bits, list):
            return points, [None if cell < 0 else bits[cell] for cell in cells], direct
        return points, _Window(bits, cells), direct

    def mask_of(self, facts: Facts, names: Iterable[str]) -> int:
        """The bits left once ``names`` (facts already in ``facts``) are looked up."""
        mask = self.everything
        for name in names:
            lookup = self._lookups.get(name)
            if lookup is not None:
                mask &= lookup(facts[name])
        return mask

    def derive(self, facts: dict[str, Any], mask: int) -> int:
        """Set every derived fact in ``facts`` from its segment of ``mask``, narrowing ``mask`` by each
        (by its value's table for a level or enum, by its numeric lookup for a money, integer or number).

        ``mask`` must already hold the lookups of every input fact.
        """
        for name, bits, by_bit, checks, narrow in self._derived:
            rows = mask & bits
            if checks is None:
                value = by_bit[rows & -rows]
            else:
                value = by_bit[self._first_holding(rows, checks, facts)]
            _set(facts, name, value)  # the reader's FrozenFacts: filled in here, then refusing changes
            mask &= narrow(value)
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

    def _lookup(self, fact: Fact, by_bit: dict[int, list[Condition]]) -> Lookup:
        """A function from a fact value to the bitset of terms whose parts on this fact all hold."""
        constrained = 0
        for i in by_bit:
            constrained |= 1 << i
        free = self.everything & ~constrained
        name = fact.name
        if fact.type == "list":
            return self._list_lookup(name, by_bit, free)
        split = domain_cells(fact, _operands(by_bit.values()))
        if fact.linear:
            masks = self._numeric_masks(split, name, by_bit, free)
            points, count = split.values, len(split.values)
            self._numeric[name] = split, masks

            def numeric(value: Any) -> int:  # cells.cell(), inlined: this runs on every decision
                i = bisect_left(points, value)
                return masks[2 * i + 1 if i < count and points[i] == value else 2 * i]

            return numeric
        bits = _value_bits(name, split.values, by_bit, free)
        if fact.type != "string":
            return dict(zip(split.values, bits, strict=True)).__getitem__
        table = dict(zip(split.values[:-1], bits, strict=False))
        other = bits[-1]  # a string's last cell: every string no condition mentions
        return lambda value: table.get(value, other)

    @staticmethod
    def _list_lookup(name: str, by_bit: dict[int, list[Condition]], free: int) -> Lookup:
        """A list fact's lookup. A list of n values has 2^n combinations to cut into cells, so there are
        no cells: terms that only ask for one of some values (``contains``, ``contains_any``; most list
        rules) are found from the list's own values, each value's terms indexed at load, and only the
        other terms are evaluated on the list. The answer is kept for lists met again (bounded)."""
        by_value: dict[Any, int] = {}  # value -> bits of the terms that hold when the list has it
        others: dict[int, list[Condition]] = {}
        for parts, bits in _kinds(by_bit):
            part = parts[0]
            if len(parts) == 1 and isinstance(part, Test) and part.__class__ is Test and part.op in ("contains", "contains_any"):
                for value in (part.operand,) if part.op == "contains" else part.operand:
                    by_value[value] = by_value.get(value, 0) | bits
            else:
                for i in _positions(bits):
                    others[i] = by_bit[i]
        evaluated = _evaluator(name, others, free)
        get = by_value.get

        def bits_at(items: tuple[Any, ...]) -> int:
            mask = evaluated(items)
            for value in items:
                mask |= get(value, 0)
            return mask

        return lru_cache(maxsize=LIST_CACHE_SIZE)(bits_at)

    def _numeric_masks(self, split: Cells, name: str, by_bit: dict[int, list[Condition]], free: int) -> list[int] | CellBits:
        """Per-cell bitsets by a sweep of start/end events over each part's runs of cells (``_runs_of``);
        a part that is not made of comparisons and sets of values is evaluated cell by cell.

        Neighbouring cells with the same bits share one int. A large index keeps them as ``CellBits``.
        """
        count = len(split)
        position = {point: i for i, point in enumerate(split.values)}
        flips: dict[int, list[int]] = {}  # cell -> the bits that change on entering it
        extra: dict[int, int] = {}
        representatives: list[Any] = []
        for i, found in by_bit.items():
            runs = _runs_of(position, found, count - 1)
            if runs is None:
                representatives = representatives or [split.representative(cell) for cell in range(count)]
                for cell, value in enumerate(representatives):
                    facts = {name: value}
                    if all(part.holds(facts) for part in found):
                        extra[cell] = extra.get(cell, 0) | 1 << i
                continue
            for low, high in runs:
                flips.setdefault(low, []).append(i)
                flips.setdefault(high + 1, []).append(i)
        previous = 0
        for cell in sorted(extra.keys() | {cell + 1 for cell in extra}):  # parts evaluated cell by cell: their bits change cell by cell
            bits = extra.get(cell, 0)
            flips.setdefault(cell, []).extend(_positions(bits ^ previous))
            previous = bits
        return CellBits.sweep(free, count, flips)


Runs = list[tuple[int, int]]
"""Cells as runs ``[first, last]``, in order and apart."""


def _runs_of(position: Mapping[Any, int], parts: Iterable[Condition], last: int) -> Runs | None:
    """Cells ``0..last`` where all ``parts`` hold, or None unless each is built of one fact's comparisons
    and sets of values with ``all``/``any``/``not`` (those are checked cell by cell); ``position``: each
    threshold to its place among the cells' thresholds (cell ``2i + 1`` is threshold ``i``)."""
    found: Runs = [(0, last)]
    for part in parts:
        runs = _part_runs(position, part, last)
        if runs is None:
            return None
        found = _intersection(found, runs)
    return found


def _part_runs(position: Mapping[Any, int], part: Condition, last: int) -> Runs | None:
    if isinstance(part, Group):
        if part.kind == "all":
            return _runs_of(position, part.parts, last)
        subs = [_part_runs(position, sub, last) for sub in part.parts]
        if any(sub is None for sub in subs):
            return None
        runs = [sub for sub in subs if sub is not None]
        return _complement(runs[0], last) if part.kind == "not" else _union(runs)
    if not isinstance(part, Test) or part.__class__ is not Test:
        return None
    op, operand = part.op, part.operand
    if op in ("eq", "in", "ne", "not_in"):
        points = [(cell, cell) for cell in sorted({2 * position[value] + 1 for value in part.constants})]
        return _complement(points, last) if op in ("ne", "not_in") else points
    if op == "between":
        low, high = 2 * position[operand[0]] + 1, 2 * position[operand[1]] + 1
    elif op == "gte":
        low, high = 2 * position[operand] + 1, last
    elif op == "lt":
        low, high = 0, 2 * position[operand]
    elif op == "gt":
        low, high = 2 * position[operand] + 2, last
    elif op == "lte":
        low, high = 0, 2 * position[operand] + 1
    else:
        return None
    return [(low, high)] if low <= high else []


def _intersection(one: Runs, other: Runs) -> Runs:
    found: Runs = []
    i = j = 0
    while i < len(one) and j < len(other):
        low, high = max(one[i][0], other[j][0]), min(one[i][1], other[j][1])
        if low <= high:
            found.append((low, high))
        if one[i][1] < other[j][1]:
            i += 1
        else:
            j += 1
    return found


def _union(many: Iterable[Runs]) -> Runs:
    found: Runs = []
    for low, high in sorted(run for runs in many for run in runs):
        if found and low <= found[-1][1] + 1:
            if high > found[-1][1]:
                found[-1] = (found[-1][0], high)
        else:
            found.append((low, high))
    return found


def _complement(runs: Runs, last: int) -> Runs:
    found: Runs = []
    start = 0
    for low, high in runs:
        if low > start:
            found.append((start, low - 1))
        start = high + 1
    if start <= last:
        found.append((start, last))
    return found


FULL_BITSETS_BYTES = 1 << 20
"""A numeric fact keeps every cell's bitset while they take at most this many bytes, else ``CellBits``:
10,000 rules with ranges on two money facts would keep 26 MiB of bitsets."""
CHANGES_PER_BITSET = 8
"""In ``CellBits``, at most this many bits change between a full bitset and any cell that uses it."""


class CellBits:
    """A numeric fact's bitset per cell, compact: a few full bitsets, and for every cell the positions of
    the bits that change on entering it, all in one array (``starts[cell]`` is where a cell's begin).
    A cell's bitset is the full one at or before it (``anchor[cell]``, complete up to ``done[anchor]``
    in ``changes``) with at most ``CHANGES_PER_BITSET`` bits flipped: a few microseconds per lookup."""

    __slots__ = ("anchor", "changes", "done", "full", "starts")

    def __init__(self) -> None:
        self.full: list[int] = []
        self.changes, self.starts, self.anchor, self.done = array("I"), array("I"), array("I"), array("I")

    @staticmethod
    def sweep(start: int, count: int, flips: Mapping[int, list[int]]) -> list[int] | CellBits:
        """The bitsets of ``count`` cells, the first being ``start`` with ``flips[0]`` applied and each next
        one the previous with ``flips[cell]`` applied; a plain list (equal neighbours sharing one int)
        while that stays within ``FULL_BITSETS_BYTES``."""
        width = max([start.bit_length(), *(bit + 1 for flipped in flips.values() for bit in flipped)])
        if count * width // 8 <= FULL_BITSETS_BYTES:
            bitsets, mask = [], start
            for cell in range(count):
                for bit in flips.get(cell, ()):
                    mask ^= 1 << bit
                bitsets.append(mask)
            return bitsets
        compact = CellBits()
        changes, starts, pending, mask = compact.changes, compact.starts, 0, start
        for cell in range(count):
            starts.append(len(changes))
            flipped = flips.get(cell, ())
            for bit in flipped:
                mask ^= 1 << bit
            changes.extend(flipped)
            pending += len(flipped)
            if pending > CHANGES_PER_BITSET or not cell:
                compact.full.append(mask)
                compact.done.append(len(changes))
                pending = 0
            compact.anchor.append(len(compact.full) - 1)
        starts.append(len(changes))
        return compact

    def __len__(self) -> int:
        return len(self.anchor)

    def __getitem__(self, cell: int) -> int:
        anchor = self.anchor[cell]
        mask = self.full[anchor]
        for bit in self.changes[self.done[anchor]:self.starts[cell + 1]]:
            mask ^= 1 << bit
        return mask

    def same(self, one: int, other: int) -> bool:
        """True when no bit changes between two cells (False may still be equal bits: a bit set and reset)."""
        return self.starts[min(one, other) + 1] == self.starts[max(one, other) + 1]


class _Window:
    """A reader's cells looked up in ``CellBits``: ``cells`` holds each one's cell there, -1 for None."""

    __slots__ = ("bits", "cells")

    def __init__(self, bits: CellBits, cells: list[int]) -> None:
        self.bits, self.cells = bits, array("i", cells)

    def __getitem__(self, cell: int) -> int | None:
        found = self.cells[cell]
        return None if found < 0 else self.bits[found]


def _same_bits(bits: list[int] | CellBits, one: int, other: int) -> bool:
    if one < 0 or other < 0:
        return one == other
    return bits[one] == bits[other] if isinstance(bits, list) else bits.same(one, other)


def _positions(bits: int) -> list[int]:
    """The positions of the set bits of ``bits``, lowest first."""
    found = []
    while bits:
        low = bits & -bits
        found.append(low.bit_length() - 1)
        bits ^= low
    return found


LIST_CACHE_SIZE = 1024
"""Lists (as read: distinct values in canonical order) whose index bits a list fact keeps, per fact."""


def _kinds(by_bit: dict[int, list[Condition]]) -> list[tuple[list[Condition], int]]:
    """Terms grouped by their parts on one fact, with the bits of each group: terms whose parts are the
    same tests hold for the same values, so each kind is evaluated (or placed) once."""
    kinds: dict[Any, tuple[list[Condition], int]] = {}
    for i, found in by_bit.items():
        first = found[0]
        if len(found) == 1 and isinstance(first, Test):  # the usual case; no tuple of several parts equals this key
            key: Any = (first.op, first.operand)
        else:
            key = tuple([(part.op, part.operand) if isinstance(part, Test) else part for part in found])
        parts, bits = kinds.get(key, (found, 0))
        kinds[key] = parts, bits | 1 << i
    return list(kinds.values())


def _value_bits(name: str, values: Sequence[Any], by_bit: dict[int, list[Condition]], free: int) -> list[int]:
    """The bits of each of ``values`` (every value of a level, enum or boolean fact; a string fact's
    constants and one other string), placed from each kind's set of values where it holds
    (:func:`_holding`) rather than by evaluating every kind on every value, which is quadratic when
    each rule names its own value (10,000 rules, 10,000 values). Values where only ``ne``-like kinds
    hold share one int, as do values where nothing but ``free`` holds."""
    position = {value: k for k, value in enumerate(values)}
    placed = [0] * len(values)  # value -> bits of kinds holding on a set of values that names it
    excluded = [0] * len(values)  # value -> bits of kinds holding everywhere but a set that names it
    everywhere = 0  # bits of the kinds holding outside a set of values
    for parts, bits in _kinds(by_bit):
        held, outside = _holding(name, parts, values, position)
        if outside:
            everywhere |= bits
        for k in held:
            if outside:
                excluded[k] |= bits
            else:
                placed[k] |= bits
    base = free | everywhere
    return [base if not (more or less) else (base | more) ^ less for more, less in zip(placed, excluded, strict=True)]


Held = tuple[set[int], bool]
"""A set of value positions, or with True every position but those."""


def _holding(name: str, parts: Sequence[Condition], values: Sequence[Any], position: Mapping[Any, int]) -> Held:
    """Where the conjunction ``parts`` holds among ``values``: from the constants of ``eq``, ``in``, ``ne``
    and ``not_in`` and ``all``/``any``/``not`` of them, else by evaluating the part on every value."""
    found: Held = (set(), True)
    for part in parts:
        found = _both(found, _held_by(name, part, values, position))
    return found


def _held_by(name: str, part: Condition, values: Sequence[Any], position: Mapping[Any, int]) -> Held:
    if isinstance(part, Test) and part.__class__ is Test and part.op in _SET_OPS:
        named = {position[c] for c in part.constants if c in position}
        return named, part.op in ("ne", "not_in")
    if isinstance(part, Group):
        held = [_held_by(name, sub, values, position) for sub in part.parts]
        if part.kind == "not":
            return held[0][0], not held[0][1]
        if part.kind == "all":
            found: Held = (set(), True)
            for one in held:
                found = _both(found, one)
            return found
        found = (set(), False)
        for one in held:  # any: not all of the negations
            found = _both((found[0], not found[1]), (one[0], not one[1]))
            found = found[0], not found[1]
        return found
    return {k for k, value in enumerate(values) if part.holds({name: value})}, False


def _both(one: Held, other: Held) -> Held:
    """Where both hold."""
    (a, a_out), (b, b_out) = one, other
    if a_out and b_out:
        return a | b, True
    if a_out:
        return b - a, False
    if b_out:
        return a - b, False
    return a & b, False


_SET_OPS = frozenset(("eq", "in", "ne", "not_in"))


def _evaluator(name: str, by_bit: dict[int, list[Condition]], free: int) -> Lookup:
    """A fact value to the bits of the terms whose parts on fact ``name`` hold, by evaluating those parts."""
    kinds = _kinds(by_bit)

    def bits_at(value: Any) -> int:
        facts = {name: value}
        mask = free
        for parts, bits in kinds:
            if all(part.holds(facts) for part in parts):
                mask |= bits
        return mask

    return bits_at


def _span(low: int, high: int) -> int:
    """Bits ``low`` to ``high - 1``."""
    return ((1 << (high - low)) - 1) << low


def _all(value: Any) -> int:
    return -1


_ALL: Lookup = _all
"""The lookup of a fact no condition reads: every bit."""


def _operands(parts: Iterable[list[Condition]]) -> list[Any]:
    """Every constant the tests in ``parts`` compare with: the thresholds that cut a fact into cells."""
    found: list[Any] = []
    for conjunction in parts:
        for part in conjunction:
            for test in (part,) if isinstance(part, Test) else part.tests():
                found.extend(test.constants)
    return found
