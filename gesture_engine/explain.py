"""Why a complaint gets its decision, told rule by rule for people who do not read Python.

The explanation is read off the compiled condition trees: every node answers ``holds(facts)``
exactly as it does for ``decide``, and this module only walks the tree to name the leaf that made a
condition false (``severity at_least high: actual medium``). The budget steps, approval and
gestures are taken from the decision itself, so the two can never tell different stories.

>>> from gesture_engine import load_policy
>>> why = load_policy().explain({"severity": "medium", "channel": "email"})
>>> why.rule, [r.note for r in why.rules][:2]
('goodwill-credit', ['issue_type eq staff_misconduct: actual other', 'visibility eq viral: actual private'])
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from .compiler import Rule
from .conditions import Condition, Facts, Group, Test, describe, show
from .durations import format_duration
from .models import Approval, BudgetStep, FactJSON, Gesture, Money, PolicyRef

if TYPE_CHECKING:
    from .policy import Policy

NOT_EVALUATED = "not evaluated (an earlier rule matched)"
NOT_REACHED = "not evaluated (an earlier row matched)"

Operand = FactJSON | tuple[FactJSON, ...]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Failure(_Frozen):
    """The first leaf test that kept a condition from holding, with the value it met."""

    fact: str
    op: str
    expected: Operand
    actual: FactJSON
    negated: bool = False
    """True when the test held but sits under a ``not``, so holding is what failed."""
    text: str
    """``severity at_least high: actual medium``, or ``not (issue_type eq other): actual other``."""


class RowExplanation(_Frozen):
    """One row of a derived fact's table and what became of it."""

    index: int
    when: str
    value: str
    status: Literal["matched", "not_matched", "not_evaluated"]
    failed: Failure | None = None


class DerivedExplanation(_Frozen):
    """How a derived fact got its value: the first matching table row, or the default."""

    fact: str
    value: str
    source: str
    """``row 2`` (1-based, as people count) or ``default``."""
    row: int | None
    """0-based index of the matching row; None when the default answered."""
    rows: tuple[RowExplanation, ...]
    default: str


class RuleExplanation(_Frozen):
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


class AddOn(_Frozen):
    """A ``collect`` rule that fired and what it added to the decision."""

    rule: str
    gestures: tuple[str, ...]
    respond_within: str | None = None
    approval: str | None = None
    reason: str


class Explanation(_Frozen):
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
    respond_within: str
    approval: Approval
    reasons: tuple[str, ...]


# -- why a condition failed -----------------------------------------------------------------------
def blame(condition: Condition, facts: Facts, want: bool = True) -> tuple[Test, bool] | None:
    """The leaf that makes ``condition`` differ from ``want``, and what that leaf should have been.

    Truth comes only from each node's ``holds``; this walk just chooses whom to name. Without
    ``not`` it names the same test as ``Condition.first_failure``; with ``not`` it also says that the
    named test should have been false.
    """
    if condition.holds(facts) == want:
        return None
    if isinstance(condition, Test):
        return condition, want
    if not isinstance(condition, Group) or not condition.parts:
        return None
    if condition.kind == "not":
        return blame(condition.parts[0], facts, not want)
    # An ``all`` that is false, or an ``any`` that is true, is decided by its first such part;
    # an ``any`` that is false, or an ``all`` that is true, has every part alike: name the first.
    decisive = (condition.kind == "all") == want
    for part in condition.parts:
        if not decisive or part.holds(facts) != want:
            return blame(part, facts, want)
    return None


def failure(condition: Condition, facts: Facts) -> Failure | None:
    """Why ``condition`` does not hold for ``facts`` (None when it holds)."""
    found = blame(condition, facts)
    if found is None:
        return None
    test, want = found
    actual = facts[test.fact]
    operand = tuple(_like(x, actual) for x in test.operand) if isinstance(test.operand, (list, tuple)) else _like(test.operand, actual)
    stated = f"{test.fact} {test.op} {show(operand)}"
    text = f"{stated}: actual {show(actual)}" if want else f"not ({stated}): actual {show(actual)}"
    return Failure(fact=test.fact, op=test.op, expected=operand, actual=actual, negated=not want, text=text)


def _like(operand: Any, actual: Any) -> Any:
    """Money operands written as whole numbers become Decimal, so JSON shows both sides alike."""
    if isinstance(actual, Decimal) and isinstance(operand, int) and not isinstance(operand, bool):
        return Decimal(operand)
    return operand


# -- explaining a decision ------------------------------------------------------------------------
def _derived(policy: Policy, facts: Facts) -> tuple[DerivedExplanation, ...]:
    out = []
    for derived in policy.derived:
        rows: list[RowExplanation] = []
        matched: int | None = None
        for i, (condition, value) in enumerate(derived.rows):
            when = describe(condition)
            if matched is not None:
                rows.append(RowExplanation(index=i, when=when, value=value, status="not_evaluated"))
            elif condition.holds(facts):
                matched = i
                rows.append(RowExplanation(index=i, when=when, value=value, status="matched"))
            else:
                rows.append(RowExplanation(index=i, when=when, value=value, status="not_matched", failed=failure(condition, facts)))
        value = derived.rows[matched][1] if matched is not None else derived.default
        source = f"row {matched + 1}" if matched is not None else "default"
        out.append(DerivedExplanation(fact=derived.fact.name, value=value, source=source, row=matched, rows=tuple(rows),
                                      default=derived.default))
    return tuple(out)


def _rule(rule: Rule, facts: Facts, status: Literal["fired", "not_fired", "not_evaluated"]) -> RuleExplanation:
    failed = failure(rule.when, facts) if status == "not_fired" else None
    note = {"fired": "fired", "not_evaluated": NOT_EVALUATED}.get(status) or (failed.text if failed else "did not fire")
    return RuleExplanation(
        rule=rule.id, hit=rule.hit, file=rule.file, line=rule.line, description=rule.description,  # type: ignore[arg-type]
        when=describe(rule.when), status=status, note=note, failed=failed,
        facts={name: facts[name] for name in rule.when.facts_used()},
    )


def explain(policy: Policy, complaint: Mapping[str, Any]) -> Explanation:
    """Explain ``policy.decide(complaint)``. Raises ``ComplaintError`` exactly as ``decide`` does."""
    decision = policy.decide(complaint)
    facts: dict[str, Any] = dict(decision.facts)
    first = [r for r in policy.rules if r.hit == "first"]
    default = next(r for r in policy.rules if r.hit == "default")
    collect = [r for r in policy.rules if r.hit == "collect"]

    rules: list[RuleExplanation] = []
    winner: Rule | None = None
    for rule in first:
        if winner is not None:
            rules.append(_rule(rule, facts, "not_evaluated"))
        elif rule.when.holds(facts):
            winner = rule
            rules.append(_rule(rule, facts, "fired"))
        else:
            rules.append(_rule(rule, facts, "not_fired"))
    rules.append(_rule(default, facts, "not_evaluated" if winner is not None else "fired"))
    add_ons: list[AddOn] = []
    for rule in collect:
        fired = rule.when.holds(facts)
        rules.append(_rule(rule, facts, "fired" if fired else "not_fired"))
        if fired:
            add_ons.append(AddOn(
                rule=rule.id,
                gestures=tuple(g.id for g in rule.gestures),
                respond_within=None if rule.respond_within is None else format_duration(rule.respond_within),
                approval=rule.approval,
                reason=rule.rationale.render(facts) if rule.rationale else rule.description or f"rule {rule.id} applies",
            ))

    given = {name for name, value in complaint.items() if value is not None}
    return Explanation(
        policy=decision.policy,
        complaint_id=decision.complaint_id,
        customer_id=decision.customer_id,
        input_facts={name: facts[name] for name in policy.facts},
        defaulted=tuple(name for name in policy.facts if name not in given),
        derived=_derived(policy, facts),
        rules=tuple(rules),
        rule=(winner or default).id,
        action=decision.action,
        action_label=decision.action_label,
        add_ons=tuple(add_ons),
        gestures=decision.gestures,
        budget=decision.budget,
        budget_steps=decision.budget.steps,
        budget_summary=decision.budget.summary,
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
    "failure",
    "show",
]
