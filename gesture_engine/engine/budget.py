"""Budgets: a base, plus a percentage of a money fact, times multipliers, clamped, capped, and
limited by goodwill already given.

Each rule's budget is compiled at load into a :class:`BudgetPlan`: straight-line ``Decimal``
arithmetic over constants worked out once (amounts already rounded, the percentage as a rate, lookup
tables). Deciding computes only the numbers, kept in a small :class:`Figures` record; the steps that
show the arithmetic, and its one-line summary, are written from those numbers only when read.

Each step's result is rounded half-up to the currency's minor unit, so the arithmetic shown to a
person is exactly the arithmetic that produced the amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gesture_engine.decision import BudgetStep, builder
from gesture_engine.money import multiply, plain, round_money

ZERO = Decimal(0)
HUNDRED = Decimal(100)
# which limits a decision's budget ran into (Figures.limited): one bit each, in the order they apply
RAISED, CAPPED_BY_RULE, CAPPED_BY_POLICY, REDUCED_BY_GOODWILL = 1, 2, 4, 8


@dataclass(frozen=True, slots=True)
class Lookup:
    """An amount or factor chosen by the value of a level/enum fact."""

    fact: str
    values: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """A rule's budget as compiled from ``then.budget``."""

    base: Decimal | Lookup
    percent_of: tuple[str, Decimal] | None = None
    multipliers: tuple[Lookup, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    @property
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


class Figures:
    """One decision's budget as numbers: the amount, the running amount after each arithmetic step
    (base, percentage, each multiplier) and which limits applied. With the facts it was computed from
    (the decision's own, read-only), that is all the steps and the summary need; they are written
    together when first read (serialising reads both)."""

    __slots__ = ("_written", "amount", "facts", "limited", "plan", "trail")

    def __init__(self, plan: BudgetPlan, amount: Decimal, trail: tuple[Decimal, ...], limited: int, facts: Mapping[str, Any]) -> None:
        self.plan, self.amount, self.trail, self.limited, self.facts = plan, amount, trail, limited, facts
        self._written: tuple[tuple[BudgetStep, ...], str] | None = None

    def _write(self) -> tuple[tuple[BudgetStep, ...], str]:
        written = self._written
        if written is None:  # two threads may both write it: the same text
            written = self._written = self.plan.write(self)
        return written

    def steps(self) -> tuple[BudgetStep, ...]:
        return self._write()[0]

    def summary(self) -> str:
        return self._write()[1]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Figures):
            return NotImplemented
        return (self.plan, self.amount, self.trail, self.limited, self.facts) == (other.plan, other.amount, other.trail, other.limited, other.facts)

    # equal by value, and the facts are a mapping: no hash
    __hash__ = None  # type: ignore[assignment]


_new_step = builder(BudgetStep)


def _step(kind: str, text: str, amount: Decimal) -> BudgetStep:
    return _new_step({"kind": kind, "text": text, "amount": amount}, None)


class BudgetPlan:
    """A rule's budget (or no budget: ``spec`` None) with the policy's limits, compiled for deciding."""

    __slots__ = ("base", "base_fact", "base_text", "base_texts", "base_values", "cap", "goodwill", "maximum", "minimum", "multipliers",
                 "percent", "unit")

    def __init__(self, spec: BudgetSpec | None, limits: Limits) -> None:
        unit = self.unit = limits.unit
        self.base_fact: str | None = None
        self.base = round_money(ZERO, unit)
        self.base_text = f"no budget {self.base}"
        self.base_values: Mapping[str, Decimal] = {}
        self.base_texts: Mapping[str, str] = {}  # the base step's text by the value of the fact it is looked up by
        self.percent: tuple[str, Decimal, str] | None = None  # the money fact, the rate (percent / 100), the percent as written
        self.multipliers: tuple[tuple[str, Mapping[str, Decimal], Mapping[str, str]], ...] = ()  # fact, factors, step texts
        # the rule's min and max and the policy's cap: (compared as given, applied rounded as every amount is)
        self.minimum: tuple[Decimal, Decimal] | None = None
        self.maximum: tuple[Decimal, Decimal] | None = None
        self.cap = (limits.cap, round_money(limits.cap, unit))
        self.goodwill: tuple[str, Decimal, str] | None = None  # the fact of goodwill given, the limit, the limit in words
        if spec is not None:
            if isinstance(spec.base, Lookup):
                self.base_fact = spec.base.fact
                self.base_values = {key: round_money(value, unit) for key, value in spec.base.values.items()}
                self.base_texts = {key: f"base {value} ({self.base_fact} {key})" for key, value in self.base_values.items()}
            else:
                self.base = round_money(spec.base, unit)
                self.base_text = f"base {self.base}"
            if spec.percent_of is not None:
                name, percent = spec.percent_of
                self.percent = (name, percent.scaleb(-2), plain(percent))  # scaleb: exactly percent / 100
            self.multipliers = tuple((m.fact, m.values, {key: f"× {plain(value)} ({m.fact} {key})" for key, value in m.values.items()})
                                     for m in spec.multipliers)
            if spec.minimum is not None:
                self.minimum = (spec.minimum, round_money(spec.minimum, unit))
            if spec.maximum is not None:
                self.maximum = (spec.maximum, round_money(spec.maximum, unit))
        if limits.goodwill_fact is not None and limits.goodwill_limit is not None:
            window = f" in {limits.goodwill_window}" if limits.goodwill_window else ""
            self.goodwill = (limits.goodwill_fact, limits.goodwill_limit, f"{round_money(limits.goodwill_limit, unit)}{window}")

    def __eq__(self, other: object) -> bool:
        """Plans of equal budgets are equal (as are the decisions they make, from two loads of one policy)."""
        if not isinstance(other, BudgetPlan):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def figures(self, facts: Mapping[str, Any]) -> Figures:
        """The budget for ``facts`` (derived facts included): numbers only."""
        unit = self.unit
        amount = self.base if self.base_fact is None else self.base_values[facts[self.base_fact]]
        trail = [amount]
        if self.percent is not None:
            amount += round_money(multiply(facts[self.percent[0]], self.percent[1]), unit)
            trail.append(amount)
        for fact, factors, _ in self.multipliers:
            amount = round_money(multiply(amount, factors[facts[fact]]), unit)
            trail.append(amount)
        limited = 0
        if self.minimum is not None and amount < self.minimum[0]:
            amount, limited = self.minimum[1], RAISED
        if self.maximum is not None and amount > self.maximum[0]:
            amount, limited = self.maximum[1], limited | CAPPED_BY_RULE
        if amount > self.cap[0]:
            amount, limited = self.cap[1], limited | CAPPED_BY_POLICY
        if amount and self.goodwill is not None:  # nothing to reduce at zero
            remaining = self.goodwill[1] - facts[self.goodwill[0]]
            if amount > remaining:
                amount, limited = round_money(max(ZERO, remaining), unit), limited | REDUCED_BY_GOODWILL
        return Figures(self, amount, tuple(trail), limited, facts)

    def write(self, figures: Figures) -> tuple[tuple[BudgetStep, ...], str]:
        """The arithmetic of ``figures`` in words: step by step, and in one line, e.g.
        ``(base 50.00 (severity high) + 8.00 (10% of order_value 80)) × 1.5 (tier gold) = 87.00; capped at …``."""
        facts, trail, limited = figures.facts, figures.trail, figures.limited
        base = trail[0]
        text = self.base_text if self.base_fact is None else self.base_texts[facts[self.base_fact]]
        steps = [_step("base", text, base)]
        texts = [text]
        if self.percent is not None:
            name, _, percent = self.percent
            text = f"+ {trail[1] - base} ({percent}% of {name} {facts[name]})"
            steps.append(_step("percent", text, trail[1]))
            texts.append(text)
            if self.multipliers:  # what is added is multiplied: in brackets
                texts[0], texts[1] = "(" + texts[0], text + ")"
        for (fact, _, texts_by_value), amount in zip(self.multipliers, trail[len(trail) - len(self.multipliers):], strict=True):
            text = texts_by_value[facts[fact]]
            steps.append(_step("multiply", text, amount))
            texts.append(text)
        line = " ".join(texts) if len(trail) == 1 else f"{' '.join(texts)} = {trail[-1]}"
        limits = []
        if self.minimum is not None and limited & RAISED:
            limits.append(("min", f"raised to {self.minimum[1]} (rule minimum)", self.minimum[1]))
        if self.maximum is not None and limited & CAPPED_BY_RULE:
            limits.append(("max", f"capped at {self.maximum[1]} (rule maximum)", self.maximum[1]))
        if limited & CAPPED_BY_POLICY:
            limits.append(("cap", f"capped at {self.cap[1]} (policy cap)", self.cap[1]))
        if self.goodwill is not None and limited & REDUCED_BY_GOODWILL:
            fact, _, limit = self.goodwill
            limits.append(("goodwill", f"reduced to {figures.amount} (goodwill limit {limit}, {facts[fact]} already given)", figures.amount))
        for kind, text, amount in limits:
            steps.append(_step(kind, text, amount))
            line = f"{line}; {text}"
        return tuple(steps), line
