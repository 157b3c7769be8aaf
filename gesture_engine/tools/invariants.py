"""Search for counterexamples to the monotonicity promises a policy declares under ``invariants:``.

A promise such as ``{monotone: budget, in: severity}`` says: with every other fact held equal, a
higher severity never gets a lower budget. We cannot try every complaint, but a policy only
changes behaviour where its conditions draw lines, so the search tries:

* every value of each level, enum and boolean fact;
* every combination of the values a list fact's tests name (and one they do not);
* for money, integer, number, duration, date and datetime facts, the values on and either side of
  every threshold the policy mentions (conditions of rules and derived facts, the goodwill limit), the fact's bounds
  and default, and a few magnitudes for facts a budget takes a percentage of;
* then ``samples`` seeded random complaints with numbers anywhere in range.

For each context (an assignment of the other facts) the checked fact walks its values in order and
adjacent budgets are compared, so a violation is always shown as a minimal pair. When the full
product of contexts exceeds ``max_cases`` decisions, a deterministic (seeded) subset is taken.
Same policy, same arguments, same result.

Usage (this is what ``gesture test`` calls)::

    from gesture_engine import load_policy
    from gesture_engine.tools.invariants import check_invariants

    for counterexample in check_invariants(load_policy("my-policy")):
        print(counterexample)          # or counterexample.to_dict() for JSON
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from gesture_engine.complaint import read_value
from gesture_engine.engine.conditions import LIST_ATOMS, Compare, domain_cells, list_atoms, show
from gesture_engine.engine.facts import TIME_TYPES, Fact, FactValue
from gesture_engine.errors import ComplaintError
from gesture_engine.load.compiler import Invariant
from gesture_engine.money import MONEY_LIMIT
from gesture_engine.policy import Policy

__all__ = ["Counterexample", "Invariant", "check_invariants", "fact_domains"]


@dataclass(frozen=True)
class Counterexample:
    """Two complaints equal except for the invariant's fact, whose budgets move the wrong way.

    ``lower`` holds the smaller value of the fact (lower level, smaller number).
    """

    invariant: Invariant
    lower: Mapping[str, Any]
    higher: Mapping[str, Any]
    lower_budget: Decimal
    higher_budget: Decimal

    def __str__(self) -> str:
        inv = self.invariant
        name = inv.fact
        others = ", ".join(f"{k}={_show(v)}" for k, v in self.lower.items() if k != name)
        return (
            f"{inv.file}:{inv.line}: {inv.describe()} is broken: {name}={_show(self.lower[name])} gives "
            f"{self.lower_budget} but {name}={_show(self.higher[name])} gives {self.higher_budget} (with {others})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (money as strings)."""
        return {
            "invariant": {"monotone": self.invariant.output, "in": self.invariant.fact, "direction": self.invariant.direction,
                          "file": self.invariant.file, "line": self.invariant.line},
            "lower": {k: _json(v) for k, v in self.lower.items()},
            "higher": {k: _json(v) for k, v in self.higher.items()},
            "lower_budget": str(self.lower_budget),
            "higher_budget": str(self.higher_budget),
        }


def check_invariants(
    policy: Policy,
    invariants: Sequence[Invariant] | None = None,
    *,
    max_cases: int = 10_000,
    samples: int = 200,
    seed: int = 0,
) -> list[Counterexample]:
    """Counterexamples to ``invariants`` (default: the policy's own), at most one per invariant.

    ``max_cases`` bounds the decisions spent on the boundary search of each invariant and
    ``samples`` the extra random contexts; ``seed`` fixes both. An empty list means none was found.
    """
    chosen = policy.compiled.invariants if invariants is None else tuple(invariants)
    domains = fact_domains(policy)
    found: list[Counterexample] = []
    for number, invariant in enumerate(chosen):
        rng = random.Random(f"{seed}:{number}:{invariant.fact}")
        example = _search(policy, invariant, domains, max_cases, samples, rng)
        if example is not None:
            found.append(example)
    return found


def fact_domains(policy: Policy) -> dict[str, tuple[FactValue, ...]]:
    """The values tried for each input fact, in the fact's order (see the module docstring)."""
    thresholds: dict[str, set[Any]] = {name: set() for name in policy.facts}  # tried on and either side
    plain: dict[str, set[Any]] = {name: set() for name in policy.facts}  # tried as they are
    conditions = [rule.when for rule in policy.rules] + [cond for d in policy.derived for cond, _ in d.rows]
    for condition in conditions:
        for test in condition.tests():
            if test.fact in thresholds:
                thresholds[test.fact].update(test.constants)
    tables = {d.fact.name: d for d in policy.derived}
    for condition in conditions:  # a fact compared with another is tried at the other's thresholds and default (or table values)
        for test in condition.tests():
            if isinstance(test, Compare):
                for one, other in ((test.fact, test.other), (test.other, test.fact)):
                    if one not in thresholds:
                        continue
                    if other in tables:
                        thresholds[one].update(tables[other].values)
                    else:
                        thresholds[one].update(thresholds[other])
                        if policy.facts[other].default is not None:
                            thresholds[one].add(policy.facts[other].default)
    for rule in policy.rules:  # the edges of budget bands, as of condition thresholds
        if rule.budget is not None:
            lookups = [rule.budget.base, *rule.budget.multipliers] if not isinstance(rule.budget.base, Decimal) else rule.budget.multipliers
            for lookup in lookups:
                if lookup.fact in thresholds:
                    thresholds[lookup.fact].update(bound for bound, _ in lookup.bounds)
    limits = policy.compiled.limits
    if limits.goodwill_fact in thresholds and limits.goodwill_limit is not None:
        thresholds[limits.goodwill_fact].add(limits.goodwill_limit)
        plain[limits.goodwill_fact].add(limits.goodwill_limit / 2)
    percent_facts = {rule.budget.percent_of[0] for rule in policy.rules if rule.budget is not None and rule.budget.percent_of is not None}
    for name in percent_facts:
        plain[name].update(Decimal(10) ** k for k in (2, 4, 6))
    return {name: _domain(fact, thresholds[name], plain[name], limits.unit) for name, fact in policy.facts.items()}


def _domain(fact: Fact, points: set[Any], plain: set[Any], unit: Decimal) -> tuple[FactValue, ...]:
    """The fact's cells at ``points``: every value of a fact with few, else each threshold with the
    values a step either side of it (in the neighbouring cells), and the ``plain`` values."""
    if fact.type == "list":
        atoms = list_atoms(fact, points)
        if len(atoms) > LIST_ATOMS:  # none, each alone, all
            return ((), *((atom,) for atom in atoms), atoms)
    split = domain_cells(fact, points)
    if fact.type == "string":  # the constants, then the default for any other string
        return tuple(sorted({*split.values[:-1], fact.default if isinstance(fact.default, str) else ""}))
    if not fact.linear:
        return split.values
    step: Any = {"integer": 1, "money": unit, "number": Decimal("0.001"), "duration": timedelta(seconds=1), "date": timedelta(days=1),
                 "datetime": timedelta(seconds=1)}[fact.type]
    numbers = {fact.default, *plain}
    if fact.numeric:
        numbers.update({Decimal(0), fact.minimum, fact.maximum})
    elif fact.type == "duration":
        numbers.add(timedelta(0))
    for point in split.values:
        numbers.update({point - step, point, point + step})
    values: set[FactValue] = set()
    for number in numbers:
        if number is None:
            continue
        value = _typed(fact, number)
        try:
            values.add(read_value(fact, value))
        except ValueError:
            continue  # outside the fact's bounds
    return tuple(sorted(values))


def _typed(fact: Fact, number: Any) -> FactValue:
    if fact.type in TIME_TYPES:
        return number  # type: ignore[no-any-return]
    if fact.type == "integer":
        return int(Decimal(number).to_integral_value())
    return Decimal(number)


def _search(policy: Policy, invariant: Invariant, domains: Mapping[str, tuple[FactValue, ...]], max_cases: int, samples: int,
            rng: random.Random) -> Counterexample | None:
    name = invariant.fact
    chain = domains[name]
    if len(chain) < 2:
        return None
    others = [(other, values) for other, values in domains.items() if other != name]
    for context in _contexts(others, max(1, max_cases // len(chain)), rng):
        found = _walk(policy, invariant, context, chain)
        if found is not None:
            return found
    fact = policy.facts[name]
    for _ in range(samples):
        context = {other: _random_value(policy.facts[other], values, rng) for other, values in others}
        points = chain if fact.finite else sorted({_random_value(fact, chain, rng) for _ in range(4)} | {chain[0], chain[-1]})
        found = _walk(policy, invariant, context, tuple(points))
        if found is not None:
            return found
    return None


def _contexts(others: list[tuple[str, tuple[FactValue, ...]]], budget: int, rng: random.Random) -> Iterator[dict[str, FactValue]]:
    """Every combination of the other facts' values, or a seeded sample of ``budget`` of them."""
    sizes = [len(values) for _, values in others]
    total = 1
    for size in sizes:
        total *= size
    indices: Any = range(total) if total <= budget else sorted(rng.sample(range(total), budget))
    for index in indices:
        context: dict[str, FactValue] = {}
        for (other, values), size in zip(others, sizes, strict=True):
            index, digit = divmod(index, size)
            context[other] = values[digit]
        yield context


def _walk(policy: Policy, invariant: Invariant, context: dict[str, FactValue], chain: Sequence[FactValue]) -> Counterexample | None:
    """Decide along ``chain`` (ascending) and return the first adjacent pair that breaks the promise."""
    previous: tuple[dict[str, Any], Decimal] | None = None
    for value in chain:
        complaint = {**context, invariant.fact: value}
        try:
            budget = policy.decide(complaint).budget.amount
        except ComplaintError:
            previous = None  # not a valid complaint (the search never builds one; be safe)
            continue
        if previous is not None:
            low_complaint, low_budget = previous
            broken = budget < low_budget if invariant.direction == "increasing" else budget > low_budget
            if broken:
                return Counterexample(invariant, low_complaint, complaint, low_budget, budget)
        previous = (complaint, budget)
    return None


def _random_value(fact: Fact, domain: tuple[FactValue, ...], rng: random.Random) -> FactValue:
    if fact.type in TIME_TYPES and domain:  # anywhere from a little below the lowest value tried to a little above the highest
        points: list[Any] = sorted(domain)
        spread: timedelta = max(points[-1] - points[0], timedelta(days=1))
        value: Any = points[0] - spread / 4 + spread * (1.5 * rng.random())
        if fact.type == "duration":
            return max(timedelta(seconds=round(value.total_seconds())), timedelta(0))
        return value  # type: ignore[no-any-return]
    if not fact.numeric:
        return rng.choice(domain)
    low = Decimal(fact.minimum) if fact.minimum is not None else Decimal(0)
    top = max((Decimal(str(v)) for v in domain), default=Decimal(1000))
    high = Decimal(fact.maximum) if fact.maximum is not None else min(max(top * 2, Decimal(1000)), MONEY_LIMIT)
    if fact.type == "integer":
        return rng.randint(int(low), int(high))
    cents = rng.randint(int(low * 100), int(high * 100))  # a number as money is: to two places
    return Decimal(cents) / 100


def _show(value: Any) -> str:
    return show(value) if isinstance(value, (bool, timedelta, date, tuple)) else str(value)


def _json(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (timedelta, datetime)):
        return show(value)
    return str(value) if isinstance(value, (Decimal, date)) else value
