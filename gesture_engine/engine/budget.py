"""Budgets: a base, plus a percentage of a money fact, times multipliers, clamped, capped, and
limited by goodwill already given.

Each rule's budget is compiled at load into a :class:`BudgetPlan`: straight-line ``Decimal``
arithmetic over constants worked out once (amounts already rounded, the percentage as a rate, lookup
tables). Deciding computes only the amount (:attr:`BudgetPlan.amount_of`, a function made for the
plan's shape); the steps that show the arithmetic, and its one-line summary, are written only when
read (:meth:`BudgetPlan.write`), by the same arithmetic run again with a record of each step
(:meth:`BudgetPlan.amount`). ``tests/test_budget_plan.py`` holds the two to the same amounts.

Each step's result is rounded half-up to the currency's minor unit, so the arithmetic shown to a
person is exactly the arithmetic that produced the amount; what is left of a goodwill window is
rounded down, so a budget never takes the goodwill given past its limit.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from functools import cached_property
from typing import Any

from gesture_engine.engine.conditions import show
from gesture_engine.money import CONTEXT as _CONTEXT
from gesture_engine.money import plain, round_money, shown

ZERO = Decimal(0)
_multiply = _CONTEXT.multiply
_quantize = _CONTEXT.quantize
"""``_quantize(x, unit)`` is ``round_money(x, unit)`` without a call and a check; the context's method
takes its two arguments positionally, ``Decimal.quantize`` parses its four as keywords (~10% slower)."""
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Lookup:
    """An amount or factor chosen by a fact's value: by the value itself (a level, enum or boolean fact),
    or by the band a number falls in (``ranges`` of a money, integer or number fact)."""

    fact: str
    values: Mapping[Any, Decimal]
    """The amount by value, or by band label for ranges (in band order, ``otherwise`` last if given)."""
    bounds: tuple[tuple[Any, bool], ...] = ()
    """Ranges: each band's upper bound and whether the bound is in the band (``lte``) or not (``lt``).
    A value above every bound falls in the last band when it has no bound, else in ``otherwise``."""

    def key(self, value: Any) -> Any:
        """Where ``value`` is looked up: the value itself, or its band's label."""
        if not self.bounds:
            return value
        ends = [bound for bound, _ in self.bounds]
        i = bisect_left(ends, value)
        while i < len(ends) and ends[i] == value and not self.bounds[i][1]:
            i += 1
        return self.labels[i]

    def picker(self) -> Callable[[Any], Decimal]:
        """``value -> amount``, for deciding: a dict hit by value, or a bisect into the bands."""
        if not self.bounds:
            return self.values.__getitem__
        values, key = self.values, self.key
        return lambda value: values[key(value)]

    def describe(self, value: Any) -> str:
        """The fact and value a step quotes: ``severity high``, ``distance_km 2000: over 1500, up to 3500``."""
        if not self.bounds:
            return f"{self.fact} {show(value)}"
        return f"{self.fact} {show(value)}: {self.key(value)}"

    @cached_property
    def labels(self) -> tuple[Any, ...]:
        return tuple(self.values)

    @cached_property
    def texts(self) -> Mapping[Any, str]:
        """A multiplier step's text by value, made once (``× 1.5 (tier gold)``); bands are written per value."""
        return {} if self.bounds else {key: f"× {plain(factor)} ({self.fact} {show(key)})" for key, factor in self.values.items()}


def band_labels(bounds: Sequence[tuple[Any, bool]], open_ended: bool) -> list[str]:
    """Names for bands cut at ``bounds`` (upper bound, included): ``up to 1500``, ``over 1500, under 3500``,
    ``from 3500``; the last band has no upper bound when ``open_ended``, else values beyond are ``otherwise``."""
    labels: list[str] = []
    lower = ""
    for bound, included in bounds:
        upper = f"up to {_bound(bound)}" if included else f"under {_bound(bound)}"
        labels.append(f"{lower}, {upper}" if lower else upper)
        lower = f"over {_bound(bound)}" if included else f"from {_bound(bound)}"
    labels.append(lower if open_ended else "otherwise")
    return labels


def _bound(bound: Any) -> str:
    return plain(bound) if isinstance(bound, Decimal) else show(bound)


@dataclass(frozen=True)
class BudgetSpec:
    """A rule's budget as compiled from ``then.budget``."""

    base: Decimal | Lookup
    percent_of: tuple[str, Decimal] | None = None
    multipliers: tuple[Lookup, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    @cached_property
    def reads(self) -> tuple[str, ...]:
        """Facts the arithmetic depends on (with the goodwill fact, the whole budget's inputs)."""
        names = [self.base.fact] if isinstance(self.base, Lookup) else []
        if self.percent_of is not None:
            names.append(self.percent_of[0])
        names.extend(m.fact for m in self.multipliers)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Limits:
    """Policy-wide limits applied after the rule's own arithmetic."""

    unit: Decimal
    cap: Decimal
    goodwill_fact: str | None = None
    goodwill_limit: Decimal | None = None
    goodwill_window: str = ""


StepRecord = tuple[str, str, Decimal]
"""One step of the arithmetic as written: ``(kind, text, running amount)``, a ``BudgetStep``'s fields."""


class BudgetPlan:
    """A rule's budget (or no budget: ``spec`` None) with the policy's limits, compiled for deciding."""

    __slots__ = ("amount_of", "base", "base_fact", "base_lookup", "base_pick", "base_text", "base_texts", "cap", "goodwill", "maximum", "minimum",
                 "multipliers", "percent", "unit")

    def __init__(self, spec: BudgetSpec | None, limits: Limits) -> None:
        unit = self.unit = limits.unit
        self.base = round_money(ZERO, unit)
        self.base_text = f"no budget {self.base}"
        # a base looked up by a fact: the fact, the amounts (rounded) as a lookup, and value -> amount
        self.base_fact: str | None = None
        self.base_lookup: Lookup | None = None
        self.base_pick: Callable[[Any], Decimal] | None = None
        self.base_texts: Mapping[Any, str] = {}
        self.percent: tuple[str, Decimal, str] | None = None  # the money fact, the rate (percent / 100), the percent as written
        self.multipliers: tuple[tuple[str, Callable[[Any], Decimal], Lookup], ...] = ()  # fact, value -> factor, the lookup
        # the rule's min and max and the policy's cap: (compared as given, applied rounded as every amount is)
        self.minimum: tuple[Decimal, Decimal] | None = None
        self.maximum: tuple[Decimal, Decimal] | None = None
        self.cap = (limits.cap, round_money(limits.cap, unit))
        self.goodwill: tuple[str, Decimal, str] | None = None  # the fact of goodwill given, the limit, the limit in words
        if spec is not None:
            if isinstance(spec.base, Lookup):
                lookup = spec.base
                self.base_fact = lookup.fact
                self.base_lookup = Lookup(lookup.fact, {key: round_money(value, unit) for key, value in lookup.values.items()}, lookup.bounds)
                self.base_pick = self.base_lookup.picker()
                if not lookup.bounds:  # a step's text by value, made once; bands are written per value
                    self.base_texts = {key: f"base {value} ({lookup.fact} {show(key)})" for key, value in self.base_lookup.values.items()}
            else:
                self.base = round_money(spec.base, unit)
                self.base_text = f"base {self.base}"
            if spec.percent_of is not None:
                name, percent = spec.percent_of
                self.percent = (name, percent.scaleb(-2), plain(percent))  # scaleb: exactly percent / 100
            self.multipliers = tuple((m.fact, m.picker(), m) for m in spec.multipliers)
            if spec.minimum is not None:
                self.minimum = (spec.minimum, round_money(spec.minimum, unit))
            if spec.maximum is not None:
                self.maximum = (spec.maximum, round_money(spec.maximum, unit))
        if limits.goodwill_fact is not None and limits.goodwill_limit is not None:
            window = f" in {limits.goodwill_window}" if limits.goodwill_window else ""
            self.goodwill = (limits.goodwill_fact, limits.goodwill_limit, f"{round_money(limits.goodwill_limit, unit)}{window}")
        self.amount_of: Callable[[Mapping[str, Any]], Decimal] = _straight_line(self)
        """The budget for ``facts``: :meth:`amount` without the trail, as one function of the plan's constants."""

    def __eq__(self, other: object) -> bool:
        """Plans of equal budgets are equal (as are the decisions they make, from two loads of one policy)."""
        if not isinstance(other, BudgetPlan):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__ if not name.endswith(("pick", "_of")))

    __hash__ = None  # type: ignore[assignment]

    def amount(self, facts: Mapping[str, Any], trail: list[tuple[str, Decimal]] | None = None) -> Decimal:
        """The budget for ``facts`` (derived facts included). Deciding asks for the amount alone;
        :meth:`write` passes a ``trail`` to record each step's kind and running amount as well, so the
        steps shown are, by construction, the arithmetic that made the amount."""
        unit = self.unit
        amount = self.base if self.base_pick is None else self.base_pick(facts[self.base_fact])  # type: ignore[index]
        if trail is not None:
            trail.append(("base", amount))
        if self.percent is not None:
            amount += _quantize(_multiply(facts[self.percent[0]], self.percent[1]), unit)
            if trail is not None:
                trail.append(("percent", amount))
        for fact, factor, _ in self.multipliers:
            amount = _quantize(_multiply(amount, factor(facts[fact])), unit)
            if trail is not None:
                trail.append(("multiply", amount))
        if self.minimum is not None and amount < self.minimum[0]:
            amount = self.minimum[1]
            if trail is not None:
                trail.append(("min", amount))
        if self.maximum is not None and amount > self.maximum[0]:
            amount = self.maximum[1]
            if trail is not None:
                trail.append(("max", amount))
        if amount > self.cap[0]:
            amount = self.cap[1]
            if trail is not None:
                trail.append(("cap", amount))
        if self.goodwill is not None and amount:  # nothing to reduce at zero
            remaining = self.goodwill[1] - facts[self.goodwill[0]]
            if amount > remaining:
                # down, never up: what is left of the window is a ceiling, and rounding must not break it
                amount = max(ZERO, remaining).quantize(unit, ROUND_FLOOR, _CONTEXT)
                if trail is not None:
                    trail.append(("goodwill", amount))
        return amount

    def why_nothing(self, facts: Mapping[str, Any]) -> str:
        """Why the budget for ``facts`` is zero, in words (a decision then offers no monetary gesture)."""
        trail: list[tuple[str, Decimal]] = []
        self.amount(facts, trail)
        if trail[-1][0] == "goodwill" and self.goodwill is not None:
            fact, _, limit = self.goodwill
            return f"the goodwill limit of {limit} is used up ({shown(facts[fact])} already given)"
        return f"the budget is {trail[-1][1]}"

    def write(self, facts: Mapping[str, Any]) -> tuple[tuple[StepRecord, ...], str]:
        """The arithmetic of :meth:`amount` for ``facts``, in words: step by step as ``(kind, text, running
        amount)``, and in one line, e.g.
        ``(base 50.00 (severity high) + 8.00 (10% of order_value 80)) × 1.5 (tier gold) = 87.00; capped at …``.
        Plain tuples: the encoder writes them as JSON and ``BudgetStep`` models are made only when read."""
        trail: list[tuple[str, Decimal]] = []
        self.amount(facts, trail)
        multipliers = iter(self.multipliers)
        steps: list[StepRecord] = []
        arithmetic: list[str] = []  # base, percentage and multipliers: one expression
        limits: list[str] = []  # then each limit that applied
        previous = ZERO
        for kind, amount in trail:
            if kind == "base":
                lookup = self.base_lookup
                text = self.base_text if lookup is None else (self.base_texts.get(facts[lookup.fact]) or
                                                              f"base {amount} ({lookup.describe(facts[lookup.fact])})")
            elif kind == "percent":
                name, _, percent = self.percent  # type: ignore[misc]
                text = f"+ {amount - previous} ({percent}% of {name} {shown(facts[name])})"
            elif kind == "multiply":
                fact, factor, lookup = next(multipliers)
                text = lookup.texts.get(facts[fact]) or f"× {plain(factor(facts[fact]))} ({lookup.describe(facts[fact])})"
            elif kind == "min":
                text = f"raised to {amount} (rule minimum)"
            elif kind == "max":
                text = f"capped at {amount} (rule maximum)"
            elif kind == "cap":
                text = f"capped at {amount} (policy cap)"
            else:
                fact, _, limit = self.goodwill  # type: ignore[misc]
                text = f"reduced to {amount} (goodwill limit {limit}, {shown(facts[fact])} already given)"
            steps.append((kind, text, amount))
            if kind in _ARITHMETIC:
                arithmetic.append(text)
                previous = amount
            else:
                limits.append(text)
        if self.percent is not None and self.multipliers:  # what is added is multiplied: in brackets
            arithmetic[0], arithmetic[1] = "(" + arithmetic[0], arithmetic[1] + ")"
        line = arithmetic[0] if len(arithmetic) == 1 else f"{' '.join(arithmetic)} = {previous}"
        return tuple(steps), "; ".join([line, *limits]) if limits else line


_ARITHMETIC = frozenset(("base", "percent", "multiply"))


def _straight_line(plan: BudgetPlan) -> Callable[[Mapping[str, Any]], Decimal]:
    """:meth:`BudgetPlan.amount` without a trail, for deciding: one function whose constants (rounded
    amounts, the rate, factor tables) are the plan's, read from closure cells rather than attributes, so
    a decision's arithmetic is the Decimal operations and little else; the first two multipliers are
    written out, the loop takes any more. A multiplier of exactly 1 is skipped: the amount already has
    the unit's exponent, so multiplying and rounding would give it back. Lookups by band keep the plan's
    own method."""
    lookups = [lookup for _, _, lookup in plan.multipliers]
    if plan.base_lookup is not None:
        lookups.append(plan.base_lookup)
    if any(lookup.bounds for lookup in lookups):
        return plan.amount
    unit, base, base_fact = plan.unit, plan.base, plan.base_fact
    bases = {} if plan.base_lookup is None else dict(plan.base_lookup.values)
    percent_fact, rate = (None, ZERO) if plan.percent is None else plan.percent[:2]
    factors = [(fact, {value: None if factor == 1 else factor for value, factor in lookup.values.items()}) for fact, _, lookup in plan.multipliers]
    (first, by_first), (second, by_second) = (*factors, (None, {}), (None, {}))[:2]
    more = tuple(factors[2:])
    low, raised = plan.minimum or (None, ZERO)
    high, lowered = plan.maximum or (None, ZERO)
    cap, capped = plan.cap
    goodwill_fact, goodwill_limit = (None, ZERO) if plan.goodwill is None else plan.goodwill[:2]

    def amount_of(facts: Mapping[str, Any]) -> Decimal:
        amount = base if base_fact is None else bases[facts[base_fact]]
        if percent_fact is not None:
            amount += _quantize(_multiply(facts[percent_fact], rate), unit)
        if first is not None:
            factor = by_first[facts[first]]
            if factor is not None:
                amount = _quantize(_multiply(amount, factor), unit)
            if second is not None:
                factor = by_second[facts[second]]
                if factor is not None:
                    amount = _quantize(_multiply(amount, factor), unit)
                if more:
                    for fact, factor_of in more:
                        factor = factor_of[facts[fact]]
                        if factor is not None:
                            amount = _quantize(_multiply(amount, factor), unit)
        if low is not None and amount < low:
            amount = raised
        if high is not None and amount > high:
            amount = lowered
        if amount > cap:
            amount = capped
        if goodwill_fact is not None and amount:
            remaining = goodwill_limit - facts[goodwill_fact]
            if amount > remaining:
                amount = max(ZERO, remaining).quantize(unit, ROUND_FLOOR, _CONTEXT)
        return amount

    return amount_of
