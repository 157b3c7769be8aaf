"""Why a complaint gets its decision, told rule by rule for people who do not read Python.

The explanation words the evaluator's trace (gesture_engine/evaluation.py): which rows and rules
were tried, whether each held and, when not, the test that made it false (``severity at_least high:
actual medium``). This module evaluates nothing itself. The budget steps, approval and gestures are
taken from the decision, and tests/test_evaluation.py holds the trace's rule and add-ons to
``decide``'s, so the two tell one story.

>>> from gesture_engine import load_policy
>>> why = load_policy().explain({"severity": "medium", "channel": "email"})
>>> why.rule, [r.note for r in why.rules][:2]
('goodwill-credit', ['issue_type eq staff_misconduct: actual other', 'visibility eq viral: actual private'])
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from gesture_engine.decision import Approval, BudgetStep, FactJSON, Frozen, Gesture, Money, Owed, PolicyRef
from gesture_engine.durations import format_duration
from gesture_engine.engine.conditions import Compare, Condition, Facts, Relative, describe, show
from gesture_engine.engine.evaluation import Check, TableTrace, Trace, blame, check, evaluate
from gesture_engine.load.compiler import Rule
from gesture_engine.timevalues import age

if TYPE_CHECKING:
    from gesture_engine.policy import Policy

NOT_EVALUATED = "not evaluated (an earlier rule matched)"
NOT_REACHED = "not evaluated (an earlier row matched)"

Operand = FactJSON | tuple[FactJSON, ...]


class Failure(Frozen):
    """The first leaf test that kept a condition from holding, with the value it met."""

    fact: str
    op: str
    expected: Operand
    actual: FactJSON
    negated: bool = False
    """True when the test held but sits under a ``not``, so holding is what failed."""
    other: str | None = None
    """The fact compared with, when the test compares two facts (``expected`` is then its value)."""
    text: str
    """``severity at_least high: actual medium``, or ``not (issue_type eq other): actual other``."""


class RowExplanation(Frozen):
    """One row of a derived fact's table and what became of it."""

    index: int
    when: str
    value: FactJSON
    status: Literal["matched", "not_matched", "not_evaluated"]
    failed: Failure | None = None


class DerivedExplanation(Frozen):
    """How a derived fact got its value: the first matching table row, or the default."""

    fact: str
    value: FactJSON
    source: str
    """``row 2`` (1-based, as people count) or ``default``."""
    row: int | None
    """0-based index of the matching row; None when the default answered."""
    rows: tuple[RowExplanation, ...]
    default: FactJSON


class RuleExplanation(Frozen):
    """One rule in evaluation order: whether it fired and, if not, the first condition that failed."""

    rule: str
    hit: Literal["first", "collect", "default"]
    file: str
    line: int
    description: str
    when: str
    status: Literal["fired", "not_fired", "not_evaluated"]
    note: str
    """``fired``, the failure text, or ``not evaluated (an earlier rule matched)``."""
    failed: Failure | None = None
    facts: dict[str, FactJSON]
    """The values of the facts this rule's condition reads."""


class AddOn(Frozen):
    """A ``collect`` rule that fired and what it added to the decision."""

    rule: str
    gestures: tuple[str, ...]
    respond_within: str | None = None
    approval: str | None = None
    reason: str


class Explanation(Frozen):
    """Everything behind one decision, in the order the engine worked it out."""

    policy: PolicyRef
    complaint_id: str | None = None
    customer_id: str | None = None
    input_facts: dict[str, FactJSON]
    defaulted: tuple[str, ...]
    """Input facts the complaint did not give, so their declared default was used."""
    derived: tuple[DerivedExplanation, ...]
    rules: tuple[RuleExplanation, ...]
    rule: str
    """The first-hit (or default) rule that chose the action."""
    action: str
    action_label: str
    add_ons: tuple[AddOn, ...]
    gestures: tuple[Gesture, ...]
    budget: Money
    budget_steps: tuple[BudgetStep, ...]
    budget_summary: str
    owed: tuple[Owed, ...]
    respond_within: str
    approval: Approval
    reasons: tuple[str, ...]


# -- why a condition failed -----------------------------------------------------------------------
def failure(condition: Condition, facts: Facts) -> Failure | None:
    """Why ``condition`` does not hold for ``facts`` (None when it holds)."""
    return _failure(check(condition, facts), facts)


def _failure(checked: Check, facts: Facts) -> Failure | None:
    """A check's failed test in words, with the values it compared."""
    blamed = checked.blamed
    if blamed is None:
        return None
    test, negated = blamed
    actual = facts[test.fact]
    if isinstance(test, Compare):  # both sides are values of the complaint: show both
        other = facts[test.other]
        stated = f"{test.fact} {test.op} {test.other}: actual {show(actual)} vs {show(other)}"
        return Failure(fact=test.fact, op=test.op, expected=other, actual=actual, negated=negated, other=test.other,
                       text=f"not ({stated})" if negated else stated)
    operand = tuple(_like(x, actual) for x in test.operand) if isinstance(test.operand, (list, tuple)) else _like(test.operand, actual)
    stated = f"{test.fact} {test.op} {show(operand)}"
    seen = show(actual)
    if isinstance(test, Relative):
        stated += f" of {test.of}"
        seen += _measured(actual, test.of, facts.get(test.of))
    text = f"not ({stated}): actual {seen}" if negated else f"{stated}: actual {seen}"
    return Failure(fact=test.fact, op=test.op, expected=operand, actual=actual, negated=negated, text=text)


def _measured(value: Any, of: str, reference: Any) -> str:
    """How far ``value`` lies before ``reference`` (``, 83d before received_at 2026-11-23T09:30:00Z``)."""
    if reference is None:
        return f", {of} not given"
    elapsed = age(value, reference)
    where = f"{show(elapsed)} before" if elapsed >= timedelta(0) else f"{show(-elapsed)} after"
    return f", {where} {of} {show(reference)}"


def _like(operand: Any, actual: Any) -> Any:
    """Money operands written as whole numbers become Decimal, so JSON shows both sides alike."""
    if isinstance(actual, Decimal) and isinstance(operand, int) and not isinstance(operand, bool):
        return Decimal(operand)
    return operand


# -- explaining a decision ------------------------------------------------------------------------
def _derived(table: TableTrace, facts: Facts) -> DerivedExplanation:
    rows: list[RowExplanation] = []
    for i, (condition, value) in enumerate(table.derived.rows):
        when = describe(condition)
        if i >= len(table.rows):
            rows.append(RowExplanation(index=i, when=when, value=value, status="not_evaluated"))
        elif table.rows[i].held:
            rows.append(RowExplanation(index=i, when=when, value=value, status="matched"))
        else:
            rows.append(RowExplanation(index=i, when=when, value=value, status="not_matched", failed=_failure(table.rows[i], facts)))
    return DerivedExplanation(fact=table.derived.fact.name, value=table.value, source="default" if table.row is None else f"row {table.row + 1}",
                              row=table.row, rows=tuple(rows), default=table.derived.default)


def explain_rule(rule: Rule, trace: Trace, checks: Mapping[int, Check] | None = None) -> RuleExplanation:
    """What became of ``rule`` in ``trace`` (``checks``: ``trace.checks()``, when already at hand)."""
    checked = (trace.checks() if checks is None else checks).get(rule.index)
    failed = None if checked is None else _failure(checked, trace.facts)
    if checked is None:
        status: Literal["fired", "not_fired", "not_evaluated"] = "fired" if rule is trace.default else "not_evaluated"
    else:
        status = "fired" if checked.held else "not_fired"
    note = {"fired": "fired", "not_evaluated": NOT_EVALUATED}.get(status) or (failed.text if failed else "did not fire")
    return RuleExplanation(
        rule=rule.id, hit=rule.hit, file=rule.file, line=rule.line, description=rule.description,  # type: ignore[arg-type]
        when=describe(rule.when), status=status, note=note, failed=failed,
        facts={name: trace.facts[name] for name in rule.when.facts_used()},
    )


def explain(policy: Policy, complaint: Mapping[str, Any]) -> Explanation:
    """Explain ``policy.decide(complaint)``. Raises ``ComplaintError`` exactly as ``decide`` does."""
    decision = policy.decide(complaint)
    trace = evaluate(policy.compiled, decision.facts)
    facts, checks = trace.facts, trace.checks()
    order = [*(r for r in policy.rules if r.hit == "first"), *(r for r in policy.rules if r.hit == "default"),
             *(entry.rule for entry in trace.add_ons)]
    add_ons = tuple(
        AddOn(
            rule=rule.id,
            gestures=tuple(g.id for g in rule.gestures),
            respond_within=None if rule.respond_within is None else format_duration(rule.respond_within),
            approval=rule.approval,
            reason=rule.rationale.render(facts) if rule.rationale else rule.description or f"rule {rule.id} applies",
        )
        for rule in trace.collected
    )
    given = {name for name, value in complaint.items() if value is not None}
    return Explanation(
        policy=decision.policy,
        complaint_id=decision.complaint_id,
        customer_id=decision.customer_id,
        input_facts={name: facts[name] for name in policy.facts},
        defaulted=tuple(name for name in policy.facts if name not in given),
        derived=tuple(_derived(table, facts) for table in trace.tables),
        rules=tuple(explain_rule(rule, trace, checks) for rule in order),
        rule=trace.rule.id,
        action=decision.action,
        action_label=decision.action_label,
        add_ons=add_ons,
        gestures=decision.gestures,
        budget=Money(amount=decision.budget.amount, currency=decision.budget.currency),
        budget_steps=decision.budget.steps,
        budget_summary=decision.budget.summary,
        owed=decision.owed,
        respond_within=decision.respond_within,
        approval=decision.approval,
        reasons=decision.reasons,
    )


__all__ = [
    "AddOn",
    "DerivedExplanation",
    "Explanation",
    "Failure",
    "RowExplanation",
    "RuleExplanation",
    "blame",
    "describe",
    "explain",
    "explain_rule",
    "failure",
    "show",
]
