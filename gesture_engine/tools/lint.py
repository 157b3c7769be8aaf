"""Static analysis of a policy: dead rules, gaps, unused definitions and suspicious limits.

How it stays exact. Every condition is a boolean combination of tests that each read one fact, and
every test compares that fact with constants written in the policy. So each input fact's domain can
be cut into *cells* on which every test has one truth value: level and enum facts into their
values, booleans into true/false, strings into the constants mentioned plus "any other string",
and money/integer/number facts into the threshold points that appear in any condition or derived
table, plus the open intervals between them (an integer interval with no whole number in it is
dropped). Derived facts are computed from the cells with the policy's own compiled tables.

The cartesian product of the cells of the facts that conditions read is the whole input space up
to equivalence. Each condition is evaluated once per *test* (on one representative per cell of its
fact) and combined as bit sets over the product, one bit per cell, with Python integers; so rule
reachability, shadowing and gaps are set algebra and the answer is exact, not sampled. When the
product would exceed ``MAX_CELLS`` the analysis falls back to each rule with just the facts it and
the rules before it read, and says so in an info finding.

Durations, dates and datetimes are cut like numbers. A list fact is cut into every combination of
the values its tests name plus one value they do not (``LIST_ATOMS`` values at most). Two kinds of
test are analysed as true/false conditions of their own, as if independent of every other test:
relative tests (``within: 30d, of: received_at``: their truth depends on a moment outside the facts)
and the tests of a list fact naming more values than ``LIST_ATOMS``. That widens the space with
combinations no complaint has, so lint never calls a rule unreachable wrongly, but it may miss a
shadowed rule and report a gap no real complaint falls in. Such a test's dimension fixes its truth on
each cell, so its two bounds below are the same.

A comparison of two facts (``reroute_delay lte allowed_delay``) is not a test of one fact, so a cell
may hold values for which it is true and others for which it is false. Each condition then has two
masks: the cells where it surely holds (a lower bound) and where it may hold (an upper bound), exact
on the cells where the comparison's answer is the same throughout (each side a point, or intervals
that do not overlap). Every claim uses the bound that keeps it true: "never matches" and "can never
fire" ask that the upper bound is empty or inside what earlier rules surely match; gaps are where no
rule may match. A rule whose bounds differ gets an info finding (GE105) saying lint is not exact
about it. A comparison with a derived number or duration cuts the other fact at the table's values,
so the usual ``limit depends on a band`` comparison is exact.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

from gesture_engine.engine.conditions import (
    LEVEL_OPS,
    LIST_ATOMS,
    ORDER_OPS,
    SET_OPS,
    Compare,
    Condition,
    Group,
    Relative,
    Test,
    describe,
    domain_cells,
    list_atoms,
    show,
)
from gesture_engine.engine.facts import INTEGER_LIMIT, NUMBER_LIMIT, Fact, FactValue
from gesture_engine.load.compiler import CompiledPolicy, Derived, Rule, compile_policy
from gesture_engine.load.source import Document, PathKey, read_policy_source
from gesture_engine.money import MONEY_LIMIT, plain
from gesture_engine.policy import Policy
from gesture_engine.resources import default_policy_path

MAX_CELLS = 2_000_000
"""Largest input space analysed as a whole; larger policies are analysed rule by rule."""
MAX_GAPS = 10
"""Gap regions reported before the rest are summarised in one finding."""

SEVERITIES = ("error", "warning", "info")

CODES: dict[str, tuple[str, str]] = {
    "GE100": ("analysis-truncated", "info"),
    "GE101": ("unreachable-rule", "error"),
    "GE102": ("rule-never-matches", "error"),
    "GE106": ("condition-always-true", "warning"),
    "GE103": ("default-never-answers", "info"),
    "GE104": ("gap", "info"),
    "GE105": ("comparison-not-exact", "info"),
    "GE111": ("derived-row-unreachable", "warning"),
    "GE112": ("derived-value-never-produced", "warning"),
    "GE201": ("unused-gesture", "warning"),
    "GE202": ("unused-action", "warning"),
    "GE203": ("unused-fact", "warning"),
    "GE204": ("unused-derived-fact", "warning"),
    "GE205": ("unmentioned-values", "info"),
    "GE206": ("unused-approval-level", "info"),
    "GE301": ("budget-min-above-max", "error"),
    "GE302": ("budget-min-above-cap", "warning"),
    "GE303": ("budget-max-above-cap", "info"),
    "GE304": ("lookup-amount-cut", "warning"),
    "GE311": ("ladder-goes-down", "warning"),
    "GE312": ("ladder-repeats-level", "info"),
    "GE401": ("monetary-gesture-without-budget", "warning"),
    "GE402": ("collect-monetary-without-budget", "warning"),
    "GE403": ("budget-without-monetary-gesture", "warning"),
}
"""Stable finding codes: code -> (name, severity). Codes are never reused for another meaning."""


@dataclass(frozen=True, order=True)
class Finding:
    """One lint result, printed as ``file:line: code: severity: message``."""

    file: str
    line: int
    code: str
    message: str
    rule: str | None = None

    @property
    def name(self) -> str:
        return CODES[self.code][0]

    @property
    def severity(self) -> str:
        return CODES[self.code][1]

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code}: {self.severity}: {self.message} [{self.name}]"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "code": self.code, "name": self.name,
                "severity": self.severity, "message": self.message, "rule": self.rule}


@dataclass(frozen=True)
class LintReport:
    """Every finding for one policy, sorted by position, and how the analysis was done."""

    policy: str
    version: str
    source: str
    findings: tuple[Finding, ...]
    cells: int
    exact: bool
    bounded: int = 0
    """Rules and table rows with comparisons of two facts that lint bounds rather than decides (GE105)."""

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def failed(self, strict: bool = False) -> bool:
        """True when an error was found (or, with ``strict``, a warning)."""
        return self.count("error") > 0 or (strict and self.count("warning") > 0)

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}{'s' if s != 'info' and self.count(s) != 1 else ''}" for s in SEVERITIES]
        how = f"{self.cells} cells, exact" if self.exact else f"{self.cells} cells, rule by rule"
        if self.bounded:
            how += f", {self.bounded} with comparisons bounded"
        return f"{self.policy} {self.version}: " + ", ".join(parts) + f" ({how})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy, "version": self.version, "source": self.source,
            "cells": self.cells, "exact": self.exact, "bounded": self.bounded,
            "counts": {s: self.count(s) for s in SEVERITIES},
            "findings": [f.to_dict() for f in self.findings],
        }


# -- the input space ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Partition:
    """One input fact's domain cut into cells: a representative and a label for each."""

    fact: Fact
    reps: tuple[FactValue, ...]
    labels: tuple[Any, ...]  # value, interval (low, low closed, high, high closed), or None for "any other string"

    @cached_property
    def where(self) -> Mapping[Any, int]:
        """The cell of each value of a level, enum, boolean or string fact."""
        return {rep: k for k, rep in enumerate(self.reps)}


def _conditions(policy: CompiledPolicy) -> Iterator[Condition]:
    for rule in policy.rules:
        yield rule.when
    for derived in policy.derived:
        for condition, _ in derived.rows:
            yield condition


def _tests(conditions: Iterable[Condition]) -> Iterator[Test]:
    for condition in conditions:
        yield from condition.tests()


def _bounds(fact: Fact) -> tuple[Any, Any]:
    if fact.type == "money":
        return (fact.minimum if fact.minimum is not None else Decimal(0)), (fact.maximum if fact.maximum is not None else MONEY_LIMIT)
    if fact.type == "integer":
        low = int(fact.minimum) if fact.minimum is not None else -INTEGER_LIMIT
        return low, (int(fact.maximum) if fact.maximum is not None else INTEGER_LIMIT)
    low_n = Decimal(fact.minimum) if fact.minimum is not None else -Decimal(NUMBER_LIMIT)
    return low_n, (Decimal(fact.maximum) if fact.maximum is not None else Decimal(NUMBER_LIMIT))


def _partition(fact: Fact, tests: list[Test], compared: Iterable[Any] = ()) -> _Partition:
    """The fact's cells that hold a value, within its bounds, each with a representative and a label;
    ``compared``: values of facts it is compared with, cut at too."""
    constants = [value for test in tests for value in test.constants]
    constants.extend(compared)
    split = domain_cells(fact, constants, _bounds(fact) if fact.numeric else None)
    kept = [cell for cell in range(len(split)) if not split.empty(cell)]
    return _Partition(fact, tuple(split.representative(cell) for cell in kept), tuple(split.label(cell) for cell in kept))


def _repeat(block: int, width: int, count: int) -> int:
    """``block`` (``width`` bits) repeated ``count`` times, by doubling."""
    result, shift = 0, 0
    while count:
        if count & 1:
            result |= block << shift
            shift += width
        block |= block << width
        width *= 2
        count >>= 1
    return result


Ranges = tuple[tuple[int, int], ...]
"""Cells of one fact as sorted, disjoint ``[start, stop)`` runs."""
CACHE_SIZE = 256
"""Masks kept per space, per fact-cell runs and per test, least recently used dropped (a mask of the largest space is 250 KB)."""


def _runs(cells: Iterable[int]) -> Ranges:
    """``cells`` as sorted runs of consecutive cells."""
    runs: list[list[int]] = []
    for k in sorted(set(cells)):
        if runs and runs[-1][1] == k:
            runs[-1][1] = k + 1
        else:
            runs.append([k, k + 1])
    return tuple((a, b) for a, b in runs)


def _cells_where(part: _Partition, test: Test) -> Ranges:
    """The cells of ``part`` where ``test`` holds, without trying every cell of a large fact.

    Small facts, and anything else: each representative is tried. Facts on a line (numbers,
    durations, dates): a comparison's answer can change only at the values it compares with, and the
    cells are ordered intervals cut at those values, so one representative per run between them
    decides the whole run (a bisect finds the runs). Level, enum, boolean and string facts: the
    operator says which cells (by value, or by rank for at_least/at_most).
    """
    reps, fact = part.reps, part.fact
    if len(reps) > 32 and fact.linear and test.op in _CUT_OPS:
        cuts = {0, len(reps)}
        for constant in test.constants:
            cuts.add(bisect_left(reps, constant))
            cuts.add(bisect_right(reps, constant))
        edges = sorted(cuts)
        return _merge((a, b) for a, b in pairwise(edges) if a < b and test.holds({test.fact: reps[a]}))
    if len(reps) > 32 and (fact.finite or fact.type in ("boolean", "string")) and test.op in _LOOKUP_OPS:
        where = part.where
        if test.op in LEVEL_OPS:
            rank = where[test.operand]
            return ((rank, len(reps)),) if test.op == "at_least" else ((0, rank + 1),)
        chosen = _runs(where[value] for value in test.constants if value in where)
        return chosen if test.op in ("eq", "in") else _complement(chosen, len(reps))
    return _runs(k for k, rep in enumerate(reps) if test.holds({test.fact: rep}))


_CUT_OPS = frozenset((*SET_OPS, *ORDER_OPS))
"""Operators whose answer on a line of values changes only at their constants."""
_LOOKUP_OPS = frozenset((*SET_OPS, *LEVEL_OPS))
"""Operators whose cells are their constants' (or the others), or a run of ranks."""


def _merge(runs: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted runs with touching ones joined."""
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and merged[-1][1] == a:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return tuple(merged)


def _complement(runs: Ranges, size: int) -> Ranges:
    edges = [0, *(edge for run in runs for edge in run), size]
    return tuple((a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if a < b)


def _keep(cache: OrderedDict[Any, int], key: Any, mask: int) -> None:
    """Keep ``mask`` in a cache of at most ``CACHE_SIZE``, dropping the least recently used."""
    cache[key] = mask
    if len(cache) > CACHE_SIZE:
        cache.popitem(last=False)


class _Space:
    """The product of the partitions of some input facts; a set of cells is an int bit mask."""

    def __init__(self, policy: CompiledPolicy, partitions: list[_Partition], apart: Mapping[int, str] | None = None) -> None:
        self.policy = policy
        self.parts = partitions
        self.apart = apart or {}
        """Tests analysed as conditions of their own (by ``id``) -> the name of their true/false dimension."""
        self.index = {p.fact.name: i for i, p in enumerate(partitions)}
        self.sizes = [len(p.reps) for p in partitions]
        self.strides: list[int] = []
        stride = 1
        for size in reversed(self.sizes):
            self.strides.insert(0, stride)
            stride *= size
        self.total = stride
        self.all = (1 << stride) - 1
        self._fact_masks: OrderedDict[tuple[int, Ranges], int] = OrderedDict()
        self._masks: OrderedDict[Any, int] = OrderedDict()
        self._derived_by_name = {d.fact.name: d for d in policy.derived}
        self._derived: dict[tuple[str, bool], tuple[dict[Any, int], list[int]]] = {}

    def fact_mask(self, i: int, cells: Iterable[int]) -> int:
        """Cells where input fact ``i`` is in one of ``cells``."""
        return self.runs_mask(i, _runs(cells))

    def runs_mask(self, i: int, runs: Ranges) -> int:
        """Cells where input fact ``i`` is in one of ``runs``."""
        key = (i, runs)
        found = self._fact_masks.get(key)
        if found is not None:
            self._fact_masks.move_to_end(key)
        else:
            stride, size = self.strides[i], self.sizes[i]
            block = 0
            for start, stop in runs:
                block |= ((1 << ((stop - start) * stride)) - 1) << (start * stride)
            found = _repeat(block, stride * size, self.total // (stride * size))
            _keep(self._fact_masks, key, found)
        return found

    def derived(self, name: str, sure: bool = False) -> tuple[dict[Any, int], list[int]]:
        """Cells per value of a derived fact, and the cells where each table row is the first match:
        where they may be (or with ``sure``, surely are) so."""
        found = self._derived.get((name, sure))
        if found is None:
            derived = self._derived_by_name[name]
            values: dict[Any, int] = {v: 0 for v in derived.values}
            rows: list[int] = []
            earlier = 0  # cells where an earlier row surely holds (for the upper bound), or may (for the lower)
            for condition, value in derived.rows:
                hit = self.bound(condition, not sure) & ~earlier
                rows.append(hit)
                values[value] |= hit
                earlier |= self.bound(condition, sure)
            values[derived.default] |= self.all & ~earlier
            found = (values, rows)
            self._derived[(name, sure)] = found
        return found

    def mask(self, condition: Condition) -> int:
        """Cells where ``condition`` may hold (exactly where it holds, unless it compares two facts)."""
        return self.bound(condition, False)

    def sure(self, condition: Condition) -> int:
        """Cells where ``condition`` surely holds."""
        return self.bound(condition, True)

    def bound(self, condition: Condition, sure: bool) -> int:
        """:meth:`sure` or :meth:`mask`: a ``not`` turns one into the other. Tests are kept (many rules
        share one, e.g. a threshold), combinations are not: a large policy's rules would hold gigabytes."""
        if isinstance(condition, Test):
            dimension = self.apart.get(id(condition))
            if dimension is not None:  # a test analysed as a condition of its own: true on its dimension's true cells
                return self.fact_mask(self.index[dimension], (1,))
            if isinstance(condition, Compare):  # one mask per comparison as written: 10,000 rules may all say ``refunded lt paid``
                key: Any = (Compare, condition.fact, condition.op, condition.other, sure)
            elif condition.fact in self._derived_by_name:
                key = (condition.fact, condition.op, condition.operand, sure)
            else:  # on an input fact a test is exact: sure and may agree
                key = (condition.fact, condition.op, condition.operand)
            found = self._masks.get(key)
            if found is not None:
                self._masks.move_to_end(key)
                return found
            if isinstance(condition, Compare):
                found = self.compared(condition, sure)
            elif condition.fact in self._derived_by_name:
                found = 0
                for value, cells in self.derived(condition.fact, sure)[0].items():
                    if condition.holds({condition.fact: value}):
                        found |= cells
            else:
                i = self.index[condition.fact]
                found = self.runs_mask(i, _cells_where(self.parts[i], condition))
            _keep(self._masks, key, found)
            return found
        if isinstance(condition, Group):
            if condition.kind == "not":
                return self.all & ~self.bound(condition.parts[0], not sure)
            if condition.kind == "all":
                found = self.all
                for part in condition.parts:
                    found &= self.bound(part, sure)
                    if not found:
                        break
                return found
            found = 0
            for part in condition.parts:
                found |= self.bound(part, sure)
            return found
        return self.all if condition.holds({}) else 0  # a condition without tests (a rule with no ``when``)

    def compared(self, test: Compare, sure: bool) -> int:
        """Cells where a comparison of two facts surely (or may) hold: over every pair of the two
        sides' cases (an input fact's cells, a derived fact's values), by what the pair decides."""
        if test.fact in self.index and test.other in self.index and self.parts[self.index[test.fact]].fact.linear:
            return self.compared_on_a_line(test, sure)
        found = 0
        for left, left_cells in self.cases(test.fact, sure):
            for right, right_cells in self.cases(test.other, sure):
                both = left_cells & right_cells
                if both:
                    holds = _relation(test, left, right)
                    if holds or (holds is None and not sure):
                        found |= both
        return found

    def compared_on_a_line(self, test: Compare, sure: bool) -> int:
        """:meth:`compared` for two input facts on a line, whose cells are intervals in order: for each
        cell of one side, the other side's cells wholly below it decide the comparison alike, and so do
        those wholly above; only the few that overlap it are taken one by one. Two bisects per cell
        instead of a pass over every pair (two facts cut at 10,000 thresholds: 10^8 pairs)."""
        mine, theirs = self.index[test.fact], self.index[test.other]
        others = self.parts[theirs].labels
        count = len(others)
        found = 0
        for k, left in enumerate(self.parts[mine].labels):
            low = bisect_left(range(count), True, key=lambda j: not _below(others[j], left, strictly=True))
            high = bisect_left(range(count), True, lo=low, key=lambda j: _below(left, others[j], strictly=True))
            runs = [(start, stop) for start, stop in ((0, low), *((j, j + 1) for j in range(low, high)), (high, count))
                    if start < stop and _accepted(_relation(test, left, others[start]), sure)]
            if runs:
                found |= self.fact_mask(mine, (k,)) & self.runs_mask(theirs, tuple(runs))
        return found

    def cases(self, name: str, sure: bool) -> list[tuple[Any, int]]:
        """A fact's values as lint sees them, each with its cells: an input fact's cells (by label: an
        interval of a number, a value, None for "any other string"), a derived fact's values."""
        if name in self._derived_by_name:
            linear = self._derived_by_name[name].fact.linear
            return [((value, True, value, True) if linear else value, cells) for value, cells in self.derived(name, sure)[0].items()]
        i = self.index[name]
        return [(label, self.fact_mask(i, (k,))) for k, label in enumerate(self.parts[i].labels)]

    # -- describing sets of cells ----------------------------------------------------------------
    def cubes(self, cells: int, limit: int) -> list[list[frozenset[int]]]:
        """A disjoint cover of ``cells`` by products of per-fact cell sets, at most ``limit`` of them."""
        out: list[list[frozenset[int]]] = []
        self._cover(cells, set(), out, limit)
        return out

    def _cover(self, cells: int, fixed: set[int], out: list[list[frozenset[int]]], limit: int) -> None:
        if cells == 0 or len(out) >= limit:
            return
        bits = format(cells, "b").zfill(self.total)[::-1]  # cell p is bits[p]
        columns = [self._columns(bits, i) for i in range(len(self.sizes))]
        projection = [frozenset(k for ks in found.values() for k in ks) for found in columns]
        product = self.all
        for i, ks in enumerate(projection):
            product &= self.fact_mask(i, ks)
        if product == cells:
            out.append(projection)
            return
        best: list[list[int]] | None = None
        best_fact = -1
        for i, groups in enumerate(columns):
            if i not in fixed and len(groups) > 1 and (best is None or len(groups) < len(best)):
                best, best_fact = list(groups.values()), i
        if best is None:  # cannot happen for a non-product set; keep the projection rather than loop
            out.append(projection)
            return
        for group in best:
            self._cover(cells & self.fact_mask(best_fact, group), fixed | {best_fact}, out, limit)

    def _columns(self, bits: str, i: int) -> dict[tuple[str, ...], list[int]]:
        """Fact ``i``'s cells present in ``bits`` (a set of cells as text, cell p at p), grouped by the
        cells of the other facts that go with each: cells with the same pattern, in order.

        The cells are ``tiles`` repeats of fact ``i``'s cells, each ``stride`` cells wide; a cell's
        pattern is read with string slices, as runs within tiles or as strided columns across them,
        whichever is fewer: no big-integer operation per cell."""
        stride, size = self.strides[i], self.sizes[i]
        width = stride * size
        tiles = self.total // width
        groups: dict[tuple[str, ...], list[int]] = {}
        for k in range(size):
            start = k * stride
            if tiles <= stride:
                pattern = tuple(bits[tile * width + start:tile * width + start + stride] for tile in range(tiles))
            else:
                pattern = tuple(bits[start + j::width] for j in range(stride))
            if any("1" in part for part in pattern):
                groups.setdefault(pattern, []).append(k)
        return groups

    def describe(self, cube: list[frozenset[int]]) -> str:
        terms = [_describe_cells(self.parts[i], ks) for i, ks in enumerate(cube) if len(ks) < self.sizes[i]]
        return " and ".join(terms) if terms else "every complaint"


def _relation(test: Compare, left: Any, right: Any) -> bool | None:
    """Whether ``test`` holds for every pair of values of two cases (True), for none (False), or for
    some (None). A case is a value, None ("any other string"), or a numeric interval
    (low, low closed, high, high closed)."""
    if left is None or right is None:
        return None
    if not isinstance(left, tuple) or (_point(left) and _point(right)):
        return test.holds({test.fact: left[0] if isinstance(left, tuple) else left,
                           test.other: right[0] if isinstance(right, tuple) else right})
    op, a, b = test.op, left, right
    if op in ("gt", "gte"):
        op, a, b = {"gt": "lt", "gte": "lte"}[op], b, a
    if op == "lt":
        return True if _below(a, b, strictly=True) else False if _below(b, a, strictly=False) else None
    if op == "lte":
        return True if _below(a, b, strictly=False) else False if _below(b, a, strictly=True) else None
    apart = _below(a, b, strictly=True) or _below(b, a, strictly=True)
    if not apart:
        return None
    return op == "ne"


def _accepted(holds: bool | None, sure: bool) -> bool:
    """Whether a pair of cases counts: it surely holds, or with ``sure`` False it may."""
    return bool(holds) or (holds is None and not sure)


def _point(case: Any) -> bool:
    return bool(case[0] == case[2] and case[1] and case[3])


def _below(a: tuple[Any, bool, Any, bool], b: tuple[Any, bool, Any, bool], strictly: bool) -> bool:
    """Every value of interval ``a`` is below (or with ``strictly`` False, at most) every value of ``b``."""
    high, high_closed, low, low_closed = a[2], a[3], b[0], b[1]
    if high is None or low is None:
        return False
    if high < low:
        return True
    return high == low and (not strictly or not (high_closed and low_closed))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return format(value, "g")
    return show(value)


def _describe_cells(part: _Partition, ks: frozenset[int]) -> str:
    name, fact = part.fact.name, part.fact
    chosen = sorted(ks)
    if fact.finite:
        return f"{name} in [{', '.join(part.labels[k] for k in chosen)}]"
    if fact.type == "boolean":
        return f"{name} = {_show(part.labels[chosen[0]])}"
    if fact.type == "list":
        return f"{name} is one of {', '.join(show(part.labels[k]) for k in chosen)}"
    if fact.type == "string":
        words = [part.labels[k] for k in chosen if part.labels[k] is not None]
        if any(part.labels[k] is None for k in chosen):
            others = [w for w in part.labels if w is not None and w not in words]
            return f"{name} not in [{', '.join(others)}]"
        return f"{name} in [{', '.join(words)}]"
    runs: list[list[int]] = []
    for k in chosen:
        if runs and runs[-1][-1] == k - 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    last = len(part.reps) - 1
    texts = []
    for run in runs:
        low, low_closed = part.labels[run[0]][0], part.labels[run[0]][1]
        high, high_closed = part.labels[run[-1]][2], part.labels[run[-1]][3]
        if low == high:
            texts.append(f"{name} = {_show(low)}")
        elif run[0] == 0:
            texts.append(f"{name} {'<=' if high_closed else '<'} {_show(high)}")
        elif run[-1] == last:
            texts.append(f"{name} {'>=' if low_closed else '>'} {_show(low)}")
        else:
            texts.append(f"{_show(low)} {'<=' if low_closed else '<'} {name} {'<=' if high_closed else '<'} {_show(high)}")
    return texts[0] if len(texts) == 1 else "(" + " or ".join(texts) + ")"


# -- the linter -----------------------------------------------------------------------------------

MAX_NAMED = 10
"""Shadowing rules named in one GE101 finding; the rest are counted."""


class _FirstHits:
    """First-hit rules met so far, in order, in one space: the cells some of them surely match
    (``covered``) or may match (``reached``), and for each rule that surely matches cells no earlier
    one did, those cells (``owners``: one rule per cell at most, so naming the rules that take a
    dead rule's cells is bounded by the space, not by the number of rules). ``fires``: for rules
    without a budget, the cells where they surely fire (what GE402 needs)."""

    def __init__(self, space: _Space, inexact: bool) -> None:
        self.space = space
        self.inexact = inexact
        self.uncovered = space.all  # no negated masks kept: ~x of a large int costs as much as the rest
        self.unreached = space.all
        self.owners: list[tuple[Rule, int]] = []
        self.fires: dict[str, int] = {}

    @property
    def covered(self) -> int:
        return self.space.all ^ self.uncovered

    def add(self, rule: Rule) -> tuple[int, list[str]]:
        """Meet ``rule``: the cells it may match, and the earlier rules that surely take every one of
        them (empty unless it can never fire)."""
        cells = self.space.mask(rule.when)
        sure = self.space.sure(rule.when) if self.inexact else cells
        shadows: list[str] = []
        if cells and not cells & self.uncovered:
            left = cells
            for earlier, owned in self.owners:
                common = owned & left
                if common:
                    shadows.append(earlier.id)
                    left ^= common
                    if not left:
                        break
        owned = sure & self.uncovered
        if owned:
            self.owners.append((rule, owned))
            self.uncovered ^= owned
        if rule.budget is None:
            fires = sure & self.unreached
            if fires:
                self.fires[rule.id] = fires
        self.unreached ^= cells & self.unreached
        return cells, shadows


class _Linter:
    def __init__(self, policy: Policy, document: Document | None, max_cells: int, max_gaps: int) -> None:
        self.policy = policy
        self.c = policy.compiled
        self.doc = document
        self.max_cells = max_cells
        self.max_gaps = max_gaps
        self.findings: list[Finding] = []
        self.first = [r for r in self.c.rules if r.hit == "first"]
        self.collect = [r for r in self.c.rules if r.hit == "collect"]
        self.default = next((r for r in self.c.rules if r.hit == "default"), None)
        self.tests_by_fact: dict[str, list[Test]] = {}
        self.compared: dict[str, list[Any]] = {}  # a fact -> values of the facts it is compared with
        tables = {d.fact.name: d for d in self.c.derived}
        for test in _tests(_conditions(self.c)):
            self.tests_by_fact.setdefault(test.fact, []).append(test)
        self.apart: dict[int, str] = {}  # tests analysed as conditions of their own, by id -> dimension name
        self.dimensions: dict[str, Fact] = {}  # those dimensions, as boolean facts
        for name, tests in self.tests_by_fact.items():
            fact = self.c.all_facts.get(name)
            wide = fact is not None and fact.type == "list" and len(list_atoms(fact, [c for t in tests for c in t.constants])) > LIST_ATOMS
            for test in tests:
                if wide or isinstance(test, Relative):
                    dimension = test.describe()
                    self.apart[id(test)] = dimension
                    self.dimensions[dimension] = Fact(dimension, "boolean")
        for name in list(self.tests_by_fact):
            self.tests_by_fact[name] = [test for test in self.tests_by_fact[name] if id(test) not in self.apart]
        pairs = {(test.fact, test.other) for test in _tests(_conditions(self.c)) if isinstance(test, Compare)}  # each pair once:
        for one, other in sorted(pairs | {(other, one) for one, other in pairs}):  # 10,000 rules comparing the same two facts
            self.compared.setdefault(one, []).extend(_values_of(other, tables, self.tests_by_fact))
        self.derived_names = {d.fact.name for d in self.c.derived}
        self.tables = tables
        self.cells = 0
        self.exact = True
        self.bounded = 0
        self._spaces: dict[frozenset[str], _Space] = {}
        self._partitions: dict[str, _Partition] = {}
        self._inputs: dict[str, frozenset[str]] = {}
        self.inexact = any(isinstance(test, Compare) for test in _tests(_conditions(self.c)))
        """Some test compares two facts: then what a condition surely matches may be less than what it may match."""

    # -- helpers ---------------------------------------------------------------------------------
    def where(self, path: PathKey) -> tuple[str, int]:
        if self.doc is None:
            return self.c.source, 1
        found = self.doc.locate(path)
        return found.file, found.line

    def add(self, code: str, path: PathKey, message: str) -> None:
        file, line = self.where(path)
        self.findings.append(Finding(file, line, code, message))

    def add_rule(self, code: str, rule: Rule, message: str) -> None:
        self.findings.append(Finding(rule.file, rule.line, code, message, rule.id))

    def inputs_of(self, conditions: Iterable[Condition]) -> set[str]:
        """Input facts that decide ``conditions``, through derived tables."""
        names: set[str] = set()
        for test in _tests(conditions):
            for name in self.read_by(test):
                names |= self.inputs_of_fact(name)
        return names

    def inputs_of_fact(self, name: str) -> frozenset[str]:
        """Input facts (or dimensions) that decide ``name``: itself for an input; worked out once per fact."""
        found = self._inputs.get(name)
        if found is None:
            self._inputs[name] = frozenset()  # a cycle cannot load; this only stops a loop
            table = self.tables.get(name)
            if table is not None:
                found = frozenset(self.inputs_of(cond for cond, _ in table.rows))
            else:
                found = frozenset((name,)) if name in self.c.facts or name in self.dimensions else frozenset()
            self._inputs[name] = found
        return found

    def read_by(self, test: Test) -> tuple[str, ...]:
        """What lint reads for ``test``: its dimension when analysed apart, else the facts it reads."""
        dimension = self.apart.get(id(test))
        return (dimension,) if dimension is not None else test.facts_used()

    def fact(self, name: str) -> Fact:
        """An input fact, or a dimension of tests analysed apart."""
        return self.c.facts[name] if name in self.c.facts else self.dimensions[name]

    def partition(self, name: str) -> _Partition:
        found = self._partitions.get(name)
        if found is None:
            found = self._partitions[name] = _partition(self.fact(name), self.tests_by_fact.get(name, []), self.compared.get(name, ()))
        return found

    def size(self, names: set[str]) -> int:
        return math.prod([len(self.partition(name).reps) for name in names])

    def space(self, names: set[str]) -> _Space:
        key = frozenset(names)
        found = self._spaces.get(key)
        if found is None:
            ordered = [n for n in self.c.facts if n in names] + sorted(n for n in self.dimensions if n in names)
            found = _Space(self.c, [self.partition(n) for n in ordered], self.apart)
            if len(self._spaces) >= 16:  # rule by rule, each rule's own facts may make a new space: keep a few
                self._spaces.clear()
            self._spaces[key] = found
        return found

    # -- checks ----------------------------------------------------------------------------------
    def run(self) -> list[Finding]:
        self.check_usage()
        self.check_values()
        self.check_budgets()
        self.check_ladder()
        everything = self.inputs_of(_conditions(self.c))
        self.cells = self.size(everything)
        if self.cells <= self.max_cells:
            self.whole(self.space(everything))
        else:
            self.exact = False
            self.rule_by_rule()
        return sorted(self.findings)

    def first_hit(self, hits: _FirstHits, rule: Rule) -> None:
        """Meet the next first-hit rule: GE102 when it matches nothing, GE101 when earlier ones take it all,
        GE106 when its condition holds for every complaint that can reach it."""
        reaching = hits.uncovered  # cells no earlier rule surely takes
        cells, shadows = hits.add(rule)
        if reaching and cells:
            self.always_true_parts(hits.space, rule, reaching, hits.inexact)
        if not cells:
            self.add_rule("GE102", rule, f"rule {rule.id!r} matches no complaint: its conditions contradict each other")
        elif shadows:
            named = ", ".join(shadows[:MAX_NAMED]) + (f" and {len(shadows) - MAX_NAMED} more" if len(shadows) > MAX_NAMED else "")
            self.add_rule("GE101", rule, f"rule {rule.id!r} can never fire: earlier rule(s) {named} match every complaint it matches")

    def always_true_parts(self, space: _Space, rule: Rule, reaching: int, inexact: bool) -> None:
        """GE106: a part of the rule's condition (one of an ``all``) that holds for every complaint reaching
        the rule and matching the other parts: it can be left out (a test written for the cells earlier
        rules have already taken, say)."""
        when = rule.when
        if not (isinstance(when, Group) and when.kind == "all"):
            return  # a whole condition that always holds is GE101 for the rules after it, GE103 for the default
        whole = space.sure(when) if inexact else space.mask(when)
        if reaching & whole == reaching:
            return  # every part holds: the same case, the whole condition
        parts = when.parts
        masks = [space.mask(part) for part in parts]
        for i, part in enumerate(parts):
            others = reaching
            for j, mask in enumerate(masks):
                if j != i:
                    others &= mask
            sure = space.sure(part) if inexact else masks[i]
            if others and others & sure == others:
                self.add_rule("GE106", rule, f"rule {rule.id!r}: {describe(part)} always holds where the rule stands "
                                             "(for every complaint that gets this far and matches the rest): leave it out")

    def whole(self, space: _Space) -> None:
        hits = _FirstHits(space, self.inexact)
        for rule in self.first:
            self.first_hit(hits, rule)
        gap = hits.unreached  # cells no first-hit rule may match
        self.check_collect(space)
        self.check_gaps(space, gap, hits.covered)
        self.check_derived(space)
        self.check_bounded(space)
        no_budget = [(rule, hits.fires[rule.id]) for rule in self.first if rule.id in hits.fires]
        unfunded = gap if self.default is not None and self.default.budget is None else 0
        for _, fires in no_budget:
            unfunded |= fires
        for rule in self.collect:
            monetary = [g.id for g in rule.gestures if g.monetary]
            if not monetary:
                continue
            cells = space.sure(rule.when) & unfunded
            if cells:
                deciders = [r.id for r, fires in no_budget if fires & cells]
                if gap & cells and self.default is not None:
                    deciders.append(self.default.id)
                self.add_rule("GE402", rule, f"collect rule {rule.id!r} adds monetary gesture(s) {', '.join(monetary)} but can "
                                             f"fire when rule(s) {', '.join(deciders)} decide with no budget")

    def check_bounded(self, space: _Space) -> None:
        """GE105 for each rule or table row comparing two facts where lint knows only bounds."""
        for rule in self.c.rules:
            if _compares(rule.when) and space.sure(rule.when) != space.mask(rule.when):
                self.bounded += 1
                self.add_rule("GE105", rule, f"rule {rule.id!r} compares two facts ({_comparisons(rule.when)}) in ways lint cannot "
                                             "settle cell by cell: its findings about this rule are bounds, not exact")
        for derived in self.c.derived:
            for i, (condition, _) in enumerate(derived.rows):
                if _compares(condition) and space.sure(condition) != space.mask(condition):
                    self.bounded += 1
                    self.add("GE105", ("derived", derived.fact.name, "table", i),
                             f"row {i + 1} of derived fact {derived.fact.name} compares two facts ({_comparisons(condition)}): "
                             "lint's findings about it are bounds")

    def check_collect(self, space: _Space) -> None:
        for rule in self.collect:
            if space.mask(rule.when) == 0:
                self.add_rule("GE102", rule, f"collect rule {rule.id!r} matches no complaint: its conditions contradict each other")

    def check_gaps(self, space: _Space, gap: int, covered: int) -> None:
        """``gap``: cells no first-hit rule may match; ``covered``: cells one surely matches."""
        if self.default is None:
            return
        if covered == space.all:
            self.add_rule("GE103", self.default, f"the default rule {self.default.id!r} never answers: first-hit rules cover every complaint")
            return
        cubes = space.cubes(gap, self.max_gaps + 1)
        for cube in cubes[: self.max_gaps]:
            self.add_rule("GE104", self.default, f"only the default rule {self.default.id!r} answers when {space.describe(cube)}")
        if len(cubes) > self.max_gaps:
            self.add_rule("GE104", self.default, f"more regions where only the default rule answers (first {self.max_gaps} shown)")

    def check_derived(self, space: _Space) -> None:
        for derived in self.c.derived:
            name = derived.fact.name
            values, rows = space.derived(name)
            for i, (cells, (condition, value)) in enumerate(zip(rows, derived.rows, strict=True)):
                if cells == 0:
                    why = "its condition matches nothing" if space.mask(condition) == 0 else "earlier rows cover every case it matches"
                    self.add("GE111", ("derived", name, "table", i), f"row {i + 1} of derived fact {name} ({value}) never applies: {why}")
            for value, cells in values.items():
                if cells == 0:
                    self.add("GE112", ("derived", name, "values"), f"derived fact {name} never takes the value {value!r}")

    def rule_by_rule(self) -> None:
        default = self.default
        where = (default.file, default.line) if default is not None else (self.c.source, 1)
        self.findings.append(Finding(where[0], where[1], "GE100",
                                     f"the input space has {self.cells} cells (limit {self.max_cells}): rules were checked one "
                                     "by one with the facts they read; gaps were not computed"))
        prefix: set[str] | None = set()  # the facts read by the rules so far; None once too many
        hits: _FirstHits | None = None
        for i, rule in enumerate(self.first):
            if prefix is not None:
                prefix |= self.inputs_of([rule.when])
                if self.size(prefix) > self.max_cells:
                    prefix = None  # it only grows
            if prefix is not None:
                space = self.space(prefix)
                if hits is None or hits.space is not space:  # a new fact: the earlier rules again, in the larger space
                    hits = _FirstHits(space, self.inexact)
                    for earlier in self.first[:i]:
                        hits.add(earlier)
                self.first_hit(hits, rule)
            else:
                own = self.inputs_of([rule.when])
                if self.size(own) <= self.max_cells and self.space(own).mask(rule.when) == 0:
                    self.add_rule("GE102", rule, f"rule {rule.id!r} matches no complaint: its conditions contradict each other")
        for rule in self.collect:
            own = self.inputs_of([rule.when])
            if self.size(own) <= self.max_cells and self.space(own).mask(rule.when) == 0:
                self.add_rule("GE102", rule, f"collect rule {rule.id!r} matches no complaint: its conditions contradict each other")
        for derived in self.c.derived:
            own = self.inputs_of(cond for cond, _ in derived.rows)
            if self.size(own) <= self.max_cells:
                self.check_derived_one(self.space(own), derived.fact.name)

    def check_derived_one(self, space: _Space, name: str) -> None:
        values, rows = space.derived(name)
        table = next(d for d in self.c.derived if d.fact.name == name)
        for i, cells in enumerate(rows):
            if cells == 0:
                self.add("GE111", ("derived", name, "table", i), f"row {i + 1} of derived fact {name} ({table.rows[i][1]}) never applies")
        for value, cells in values.items():
            if cells == 0:
                self.add("GE112", ("derived", name, "values"), f"derived fact {name} never takes the value {value!r}")

    def reads(self) -> dict[str, set[str]]:
        """Who reads each fact: conditions, budgets, goodwill, rationales, derived tables."""
        readers: dict[str, set[str]] = {}
        for rule in self.c.rules:
            names = set(rule.when.facts_used())
            if rule.budget is not None:
                spec = rule.budget
                if not isinstance(spec.base, Decimal):
                    names.add(spec.base.fact)
                if spec.percent_of is not None:
                    names.add(spec.percent_of[0])
                names.update(m.fact for m in spec.multipliers)
            names.update(owed.fact for owed in rule.owed if owed.fact is not None)
            if rule.rationale is not None:
                names.update(text for is_fact, text in rule.rationale.parts if is_fact)
            for name in names:
                readers.setdefault(name, set()).add(f"rule {rule.id}")
        for derived in self.c.derived:
            for condition, _ in derived.rows:
                for name in condition.facts_used():
                    readers.setdefault(name, set()).add(f"derived {derived.fact.name}")
        if self.c.limits.goodwill_fact is not None:
            readers.setdefault(self.c.limits.goodwill_fact, set()).add("goodwill")
        return readers

    def check_usage(self) -> None:
        offered = {g.id for r in self.c.rules for g in r.gestures}
        for gid in self.c.gestures:
            if gid not in offered:
                self.add("GE201", ("gestures", gid), f"gesture {gid!r} is declared but no rule offers it")
        chosen = {r.action for r in self.c.rules if r.action is not None}
        for aid in self.c.actions:
            if aid not in chosen:
                self.add("GE202", ("actions", aid), f"action {aid!r} is declared but no rule chooses it")
        readers = self.reads()
        for name in self.c.facts:
            if name not in readers:
                self.add("GE203", ("facts", name), f"fact {name!r} is declared but nothing reads it "
                                                   "(no condition, budget, owed amount, goodwill limit or rationale)")
        for derived in self.c.derived:
            name = derived.fact.name
            if not (readers.get(name, set()) - {f"derived {name}"}):
                self.add("GE204", ("derived", name), f"derived fact {name!r} is computed but no rule, budget or other table reads it")
        used_levels = {level for _, level in self.c.ladder.rows} | {r.approval for r in self.c.rules if r.approval}
        for level in self.c.ladder.levels:
            if level not in used_levels:
                self.add("GE206", ("approval", "levels"), f"approval level {level!r} is never required: no ladder row or rule uses it")

    def check_values(self) -> None:
        """Level and enum input values named nowhere: a rule, table, budget lookup or default."""
        named: dict[str, set[str]] = {}
        for test in _tests(_conditions(self.c)):
            if isinstance(test, Compare):  # every value may compare differently with the other fact's
                for name in test.facts_used():
                    named.setdefault(name, set()).update(self.c.all_facts[name].values)
                continue
            fact = self.c.all_facts.get(test.fact)
            if fact is None or not fact.finite:  # only level and enum values are checked
                continue
            values = {str(v) for v in test.constants}
            if fact.ordered and test.op in ("at_least", "at_most"):
                rank = fact.rank[str(test.operand)]
                values = {v for v, r in fact.rank.items() if (r >= rank if test.op == "at_least" else r <= rank)}
            named.setdefault(test.fact, set()).update(values)
        for by, keys in _lookup_keys(self.doc):
            named.setdefault(by, set()).update(keys)
        for name, fact in self.c.facts.items():
            if not fact.finite:
                continue
            mentioned = named.get(name, set()) | ({str(fact.default)} if fact.default is not None else set())
            missing = [v for v in fact.values if v not in mentioned]
            if missing and len(missing) < len(fact.values):
                self.add("GE205", ("facts", name, "values"),
                         f"{name} value(s) {', '.join(missing)} are never named by a rule, table or budget: they are all treated alike")

    def check_budgets(self) -> None:
        cap = self.c.limits.cap
        for rule in self.c.rules:
            spec = rule.budget
            if spec is None:
                monetary = [g.id for g in rule.gestures if g.monetary]
                if monetary and rule.hit != "collect":
                    self.add_rule("GE401", rule, f"rule {rule.id!r} offers monetary gesture(s) {', '.join(monetary)} but has no budget")
                continue
            if not any(g.monetary for g in rule.gestures):
                self.add_rule("GE403", rule, f"rule {rule.id!r} has a budget but offers no monetary gesture to spend it on")
            path: PathKey = ("rules", rule.index, "then", "budget")
            if spec.minimum is not None and spec.maximum is not None and spec.minimum > spec.maximum:
                self.add("GE301", path, f"rule {rule.id!r}: budget min {spec.minimum} is above its max {spec.maximum}")
            if spec.minimum is not None and spec.minimum > cap:
                self.add("GE302", path, f"rule {rule.id!r}: budget min {spec.minimum} is above the policy cap {cap}; the cap always wins")
            fixed = isinstance(spec.base, Decimal) and not spec.multipliers and spec.percent_of is None
            if spec.maximum is not None and spec.maximum > cap:
                self.add("GE303", path, f"rule {rule.id!r}: budget max {spec.maximum} is above the policy cap {cap}; the cap cuts it")
            elif fixed and isinstance(spec.base, Decimal) and spec.base > cap:
                self.add("GE303", path, f"rule {rule.id!r}: budget {spec.base} is above the policy cap {cap}; the cap cuts it")
            if not isinstance(spec.base, Decimal):
                limit, by = (spec.maximum, "its max") if spec.maximum is not None and spec.maximum < cap else (cap, "the policy cap")
                cut = [f"{show(key)} ({plain(amount)})" for key, amount in spec.base.values.items() if amount > limit]
                if cut:
                    self.add("GE304", path + ("base",), f"rule {rule.id!r}: base amounts for {spec.base.fact} {', '.join(cut)} "
                                                        f"are above {by} {plain(limit)}; they are always cut to it")

    def check_ladder(self) -> None:
        ladder = self.c.ladder
        for i in range(1, len(ladder.rows)):
            (low, before), (_, after) = ladder.rows[i - 1], ladder.rows[i]
            if ladder.rank(after) < ladder.rank(before):
                self.add("GE311", ("approval", "ladder", i), f"approval ladder goes down: {after} approves amounts above {low}, "
                                                             f"but {before} was needed for smaller amounts")
            elif after == before:
                self.add("GE312", ("approval", "ladder", i), f"approval ladder rows {i} and {i + 1} both give {after}; merge them")


def _compares(condition: Condition) -> bool:
    return any(isinstance(test, Compare) for test in condition.tests())


def _comparisons(condition: Condition) -> str:
    return ", ".join(test.describe() for test in condition.tests() if isinstance(test, Compare))


def _values_of(name: str, tables: Mapping[str, Derived], tests: Mapping[str, list[Test]]) -> list[Any]:
    """What lint cuts a fact at when another fact is compared with it: a derived fact's values, or
    the constants an input fact is tested against."""
    if name in tables:
        return list(tables[name].values)
    return [value for test in tests.get(name, []) for value in test.constants]


def _lookup_keys(document: Document | None) -> Iterator[tuple[str, list[str]]]:
    """Values written as keys of budget lookups (``by: fact, values: {...}``) in the raw rules."""
    if document is None or not isinstance(document.data, Mapping):
        return
    for rule in document.data.get("rules") or ():
        budget = rule.get("then", {}).get("budget") if isinstance(rule, Mapping) and isinstance(rule.get("then"), Mapping) else None
        if not isinstance(budget, Mapping):
            continue
        lookups = [budget.get("base"), *(budget.get("multipliers") or ())]
        for lookup in lookups:
            if isinstance(lookup, Mapping) and isinstance(lookup.get("by"), str) and isinstance(lookup.get("values"), Mapping):
                yield lookup["by"], [str(k) for k in lookup["values"]]


def lint(policy: Policy, document: Document | None = None, *, max_cells: int = MAX_CELLS, max_gaps: int = MAX_GAPS) -> LintReport:
    """Lint a loaded policy. ``document`` (the parsed source) gives non-rule findings their lines."""
    linter = _Linter(policy, document, max_cells, max_gaps)
    findings = linter.run()
    return LintReport(policy.name, policy.version, policy.source, tuple(findings), linter.cells, linter.exact, linter.bounded)


def lint_path(path: str | Path | None = None, **options: Any) -> LintReport:
    """Load and lint the policy at ``path`` (None = the embedded default). Raises ``PolicyError``."""
    source = Path(path) if path is not None else default_policy_path()
    document = read_policy_source(source)
    return lint(Policy(compile_policy(document)), document, **options)
