"""Budgets: a base, plus a percentage of a money fact, times multipliers, clamped, capped, and
limited by goodwill already given. Every step is recorded so the decision can show its arithmetic.

Each step's result is rounded half-up to the currency's minor unit, so the arithmetic shown to a
person is exactly the arithmetic that produced the amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from .facts import FactValue
from .models import BudgetStep, builder
from .money import multiply, plain, round_money

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Lookup:
    """An amount or factor chosen by the value of a level/enum fact."""

    fact: str
    values: Mapping[str, Decimal]


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


_new_step = builder(BudgetStep)


def _step(kind: str, text: str, amount: Decimal) -> BudgetStep:
    return _new_step({"kind": kind, "text": text, "amount": amount})


def compute_budget(
    spec: BudgetSpec | None, facts: Mapping[str, FactValue], limits: Limits
) -> tuple[Decimal, tuple[BudgetStep, ...]]:
    """The budget for one decision and the steps that produced it."""
    unit = limits.unit
    steps: list[BudgetStep] = []
    if spec is None:
        amount = round_money(ZERO, unit)
        steps.append(_step("base", f"no budget {amount}", amount))
    else:
        if isinstance(spec.base, Lookup):
            key = facts[spec.base.fact]
            amount = round_money(spec.base.values[key], unit)  # type: ignore[index]
            steps.append(_step("base", f"base {amount} ({spec.base.fact} {key})", amount))
        else:
            amount = round_money(spec.base, unit)
            steps.append(_step("base", f"base {amount}", amount))
        if spec.percent_of is not None:
            name, percent = spec.percent_of
            of = facts[name]
            extra = round_money(multiply(of, percent) / HUNDRED, unit)  # type: ignore[arg-type]
            amount += extra
            steps.append(_step("percent", f"+ {extra} ({plain(percent)}% of {name} {of})", amount))
        for lookup in spec.multipliers:
            key = facts[lookup.fact]
            factor = lookup.values[key]  # type: ignore[index]
            amount = round_money(multiply(amount, factor), unit)
            steps.append(_step("multiply", f"× {plain(factor)} ({lookup.fact} {key})", amount))
        if spec.minimum is not None and amount < spec.minimum:
            amount = round_money(spec.minimum, unit)
            steps.append(_step("min", f"raised to {amount} (rule minimum)", amount))
        if spec.maximum is not None and amount > spec.maximum:
            amount = round_money(spec.maximum, unit)
            steps.append(_step("max", f"capped at {amount} (rule maximum)", amount))
    if amount > limits.cap:
        amount = round_money(limits.cap, unit)
        steps.append(_step("cap", f"capped at {amount} (policy cap)", amount))
    if amount and limits.goodwill_fact is not None and limits.goodwill_limit is not None:  # nothing to reduce at zero
        given = facts[limits.goodwill_fact]
        remaining = max(ZERO, limits.goodwill_limit - given)  # type: ignore[operator]
        if amount > remaining:
            amount = round_money(remaining, unit)
            window = f" in {limits.goodwill_window}" if limits.goodwill_window else ""
            steps.append(
                _step(
                    "goodwill",
                    f"reduced to {amount} (goodwill limit {round_money(limits.goodwill_limit, unit)}"
                    f"{window}, {given} already given)",
                    amount,
                )
            )
    return amount, tuple(steps)


def summarize(steps: tuple[BudgetStep, ...]) -> str:
    """One line of arithmetic: ``base 20.00 (severity high) × 1.5 (tier gold) = 30.00; capped at …``."""
    arithmetic = [s for s in steps if s.kind in ("base", "percent", "multiply")]
    limits = [s.text for s in steps if s.kind not in ("base", "percent", "multiply")]
    texts = [s.text for s in arithmetic]
    if any(s.kind == "percent" for s in arithmetic) and arithmetic[-1].kind == "multiply":
        added = sum(1 for s in arithmetic if s.kind in ("base", "percent"))
        texts[0], texts[added - 1] = "(" + texts[0], texts[added - 1] + ")"
    line = " ".join(texts)
    if len(arithmetic) > 1:
        line += f" = {arithmetic[-1].amount}"
    return "; ".join([line, *limits])
