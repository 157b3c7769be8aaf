"""The one rule-by-rule evaluator, and the trace it leaves: what explain, coverage, ``gesture test`` and
``decide(full_trace=True)`` read.

Deciding goes through the bitset index (index.py), which says which rules fire but not why. This
module walks the policy's tables as written, the derived facts' rows, then the first-hit rules up to
the one that fires (or the default), then every add-on, and records what each condition did. Like
OPA's tracer it observes and never formats text (explain.py words it for people), and it walks each
condition once: every node is evaluated, without short-circuit, so the trace holds both the branch
outcomes coverage counts and the test explain blames. tests/test_evaluation.py holds it to the
index's answers on random policies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from gesture_engine.engine.conditions import Condition, Facts, Group, Test
from gesture_engine.engine.facts import FactValue
from gesture_engine.load.compiler import CompiledPolicy, Derived, Rule

Truth = Mapping[int, bool]
"""Every node of a condition tree, by ``id``, to its value on some facts."""


class Check(NamedTuple):
    """One condition evaluated on one set of facts: the value of every node, each computed once.
    (Named tuples: a trace makes one per condition, and they are built several times faster than
    frozen dataclasses.)"""

    condition: Condition
    held: bool
    truth: Truth
    """Every node of the condition, by ``id``, to its value: the branch outcomes coverage counts."""

    @property
    def blamed(self) -> tuple[Test, bool] | None:
        """When the condition did not hold: the leaf test that made it so (see :func:`blame`), and
        whether that test held but sits under a ``not``, so that holding is what failed."""
        found = _blame(self.condition, self.truth, True)
        return None if found is None else (found[0], not found[1])


class RuleCheck(NamedTuple):
    """A rule and its condition's check."""

    rule: Rule
    check: Check


class TableTrace(NamedTuple):
    """A derived fact's table: the rows tried, in order, up to the one that matched."""

    derived: Derived
    rows: tuple[Check, ...]
    row: int | None
    """The matching row's index; None when no row matched and the default answered."""
    value: FactValue


@dataclass(frozen=True, slots=True)
class Trace:
    """A policy's tables evaluated on one complaint's facts, in the order the engine works them out."""

    facts: Mapping[str, FactValue]
    """Input and derived facts."""
    tables: tuple[TableTrace, ...]
    first: tuple[RuleCheck, ...]
    """First-hit rules tried, in order: all of them, or up to the one that held (the last)."""
    default: Rule | None
    """The default rule when no first-hit rule held; None when one did."""
    add_ons: tuple[RuleCheck, ...]
    """Every add-on (``collect`` rule), in order."""

    @property
    def rule(self) -> Rule:
        """The rule that chose the action."""
        return self.default if self.default is not None else self.first[-1].rule

    @property
    def collected(self) -> tuple[Rule, ...]:
        """The add-ons that held."""
        return tuple(entry.rule for entry in self.add_ons if entry.check.held)

    def checks(self) -> dict[int, Check]:
        """The check of every rule evaluated, by the rule's ``index`` (the default has none)."""
        return {entry.rule.index: entry.check for entry in (*self.first, *self.add_ons)}


def evaluate(policy: CompiledPolicy, facts: Facts) -> Trace:
    """Walk ``policy``'s tables on ``facts`` (input facts; derived ones are worked out again from them)."""
    known = dict(facts)
    tables = tuple(_table(derived, known) for derived in policy.derived)
    first: list[RuleCheck] = []
    for rule in policy.rules:
        if rule.hit == "first":
            first.append(RuleCheck(rule, check(rule.when, known)))
            if first[-1].check.held:
                break
    hit = bool(first) and first[-1].check.held
    default = None if hit else next(rule for rule in policy.rules if rule.hit == "default")
    add_ons = tuple(RuleCheck(rule, check(rule.when, known)) for rule in policy.rules if rule.hit == "collect")
    return Trace(known, tables, tuple(first), default, add_ons)


def _table(derived: Derived, known: dict[str, FactValue]) -> TableTrace:
    """Try ``derived``'s rows in order and set its fact in ``known``."""
    rows: list[Check] = []
    for condition, value in derived.rows:
        rows.append(check(condition, known))
        if rows[-1].held:
            known[derived.fact.name] = value
            return TableTrace(derived, tuple(rows), len(rows) - 1, value)
    known[derived.fact.name] = derived.default
    return TableTrace(derived, tuple(rows), None, derived.default)


def check(condition: Condition, facts: Facts) -> Check:
    """Evaluate every node of ``condition`` on ``facts`` once (no short-circuit: coverage counts each part)."""
    if not isinstance(condition, Group):  # a test or ``always``: most conditions, and nothing to walk
        held = condition.holds(facts)
        return Check(condition, held, {id(condition): held})
    truth: dict[int, bool] = {}
    return Check(condition, _fill(condition, facts, truth), truth)


def _fill(condition: Condition, facts: Facts, truth: dict[int, bool]) -> bool:
    if isinstance(condition, Group):
        values = [_fill(part, facts, truth) for part in condition.parts]
        value = all(values) if condition.kind == "all" else any(values) if condition.kind == "any" else not values[0]
    else:  # a test, or ``always``
        value = condition.holds(facts)
    truth[id(condition)] = value
    return value


def blame(condition: Condition, facts: Facts, want: bool = True) -> tuple[Test, bool] | None:
    """The leaf that makes ``condition`` differ from ``want``, and what that leaf should have been.

    Without ``not`` it names the same test as ``Condition.first_failure``; with ``not`` it also says
    that the named test should have been false.
    """
    return _blame(condition, check(condition, facts).truth, want)


def _blame(condition: Condition, truth: Truth, want: bool) -> tuple[Test, bool] | None:
    if truth[id(condition)] == want:
        return None
    if isinstance(condition, Test):
        return condition, want
    if not isinstance(condition, Group) or not condition.parts:
        return None
    if condition.kind == "not":
        return _blame(condition.parts[0], truth, not want)
    # An ``all`` that is false, or an ``any`` that is true, is decided by its first such part;
    # an ``any`` that is false, or an ``all`` that is true, has every part alike: name the first.
    decisive = (condition.kind == "all") == want
    for part in condition.parts:
        if not decisive or truth[id(part)] != want:
            return _blame(part, truth, want)
    return None


def branch_parts(condition: Condition) -> tuple[tuple[Group, Condition], ...]:
    """Every part of every ``all``/``any`` group in ``condition``, groups in pre-order: coverage's branches,
    whose outcomes a :class:`Check`'s ``truth`` holds."""
    return tuple((group, part) for group in _groups(condition) if group.kind in ("all", "any") for part in group.parts)


def _groups(condition: Condition) -> Iterator[Group]:
    if isinstance(condition, Group):
        yield condition
        for part in condition.parts:
            yield from _groups(part)
