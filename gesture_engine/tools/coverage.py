"""Coverage of a policy by a set of decisions: which rules, condition branches and table rows ran.

Coverage is an observer: it counts what the evaluator's traces (gesture_engine/evaluation.py) say
ran, one trace per decision, and evaluates nothing itself. ``decide`` is not changed or slowed by it.

What counts (docs/testing-policies.md explains it with examples):

* **rules** -- a rule is covered when it fired in at least one case (the first-hit winner, the
  default when it answered, or a collect rule whose condition held).
* **branches** -- every part of every ``all``/``any`` group, in rule conditions and in derived
  tables, has two outcomes: seen true and seen false. An outcome is seen when a case reached the
  group's rule or row (first-hit rules after the winner, and table rows after the matching row,
  are not reached) and the part evaluated to that value. Every part is evaluated, not only the
  ones Python's short-circuit would reach. This is condition coverage in the sense of
  DO-178/gcov: a part that was never false was never shown to matter.
* **rows** -- every row of every derived table, and its ``default``, is covered when it gave the
  derived fact its value in at least one case.

The total percentage counts every rule, every branch outcome and every row (defaults included)
as one item each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import computed_field

from gesture_engine.decision import Decision, FactJSON, Frozen
from gesture_engine.engine.conditions import Condition, describe, show
from gesture_engine.engine.evaluation import Check, Trace, branch_parts, evaluate
from gesture_engine.load.source import PathKey, format_path

if TYPE_CHECKING:
    from gesture_engine.policy import Policy


class RuleCoverage(Frozen):
    """A rule and how many cases it fired in."""

    rule: str
    hit: Literal["first", "collect", "default"]
    file: str
    line: int
    fired: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def covered(self) -> bool:
        return self.fired > 0


class BranchCoverage(Frozen):
    """One part of an ``all``/``any`` group and how often it was seen true and false."""

    owner: str
    """``rule goodwill-credit`` or ``derived visibility row 1``."""
    file: str | None
    line: int | None
    """Where the owning rule starts; None for derived-table rows (the compiled policy keeps no row lines)."""
    path: str
    """Where the part sits in the policy, e.g. ``rules[4].when.any[1]``."""
    group: Literal["all", "any"]
    condition: str
    true: int
    false: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def covered(self) -> bool:
        return self.true > 0 and self.false > 0


class RowCoverage(Frozen):
    """One row of a derived table (``row`` None: the default) and how many cases it decided."""

    fact: str
    row: int | None
    """0-based row index; None for the table's default."""
    when: str
    value: FactJSON
    hits: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def covered(self) -> bool:
        return self.hits > 0


class CoverageReport(Frozen):
    """Coverage over a set of cases, with percentages rounded half-up to one decimal."""

    cases: int
    rules: tuple[RuleCoverage, ...]
    branches: tuple[BranchCoverage, ...]
    rows: tuple[RowCoverage, ...]
    rule_percent: Decimal
    branch_percent: Decimal
    row_percent: Decimal
    percent: Decimal
    """All items together: rules + branch outcomes (two per part) + rows and defaults."""

    def summary(self) -> str:
        """``coverage 93.1% (rules 12/12, branch outcomes 13/14, table rows 7/7) over 20 cases``."""
        rules = sum(r.covered for r in self.rules)
        outcomes = sum((b.true > 0) + (b.false > 0) for b in self.branches)
        rows = sum(r.covered for r in self.rows)
        return (f"coverage {self.percent}% (rules {rules}/{len(self.rules)}, branch outcomes {outcomes}/{2 * len(self.branches)}, "
                f"table rows {rows}/{len(self.rows)}) over {self.cases} case{'s' if self.cases != 1 else ''}")

    def uncovered(self) -> list[str]:
        """One line per item no case exercised, in policy order."""
        lines = [f"{r.file}:{r.line}: rule {r.rule} never fired" for r in self.rules if not r.covered]
        for b in self.branches:
            missing = [word for word, seen in (("true", b.true), ("false", b.false)) if not seen]
            if missing:
                where = f"{b.file}:{b.line}: " if b.file is not None else ""
                lines.append(f"{where}{b.owner}: {b.group} part {b.path} ({b.condition}) never {' or '.join(missing)}")
        for row in self.rows:
            if not row.covered:
                which = "default" if row.row is None else f"row {row.row + 1} ({row.when})"
                lines.append(f"derived {row.fact}: {which} -> {show(row.value)} never used")
        return lines


def _percent(covered: int, total: int) -> Decimal:
    if total == 0:
        return Decimal("100.0")
    return (Decimal(100 * covered) / Decimal(total)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class _Branch:
    owner: str
    file: str | None
    line: int | None
    root: PathKey  # where the condition is in the policy (its parts' paths are relative to it)
    group: str
    part: Condition
    true: int = 0
    false: int = 0


def _branches(condition: Condition, owner: str, file: str | None, line: int | None, root: PathKey) -> list[_Branch]:
    return [_Branch(owner, file, line, root, group.kind, part) for group, part in branch_parts(condition)]


@dataclass
class CoverageRecorder:
    """Accumulates what a series of decisions exercised; ``report()`` summarises it."""

    policy: Policy
    cases: int = 0
    _fired: dict[str, int] = field(default_factory=dict)
    _rule_branches: dict[str, list[_Branch]] = field(default_factory=dict)
    _rows: dict[str, list[int]] = field(default_factory=dict)
    _row_branches: dict[tuple[str, int], list[_Branch]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rule in self.policy.rules:
            self._fired[rule.id] = 0
            self._rule_branches[rule.id] = _branches(rule.when, f"rule {rule.id}", rule.file, rule.line, ("rules", rule.index, "when"))
        for derived in self.policy.derived:
            name = derived.fact.name
            self._rows[name] = [0] * (len(derived.rows) + 1)  # last slot: the default
            for i, (condition, _) in enumerate(derived.rows):
                self._row_branches[(name, i)] = _branches(condition, f"derived {name} row {i + 1}", None, None, ("derived", name, "table", i, "when"))

    def observe(self, decision: Decision) -> None:
        """Record one decision of this policy, by the trace of its facts."""
        self.record(evaluate(self.policy.compiled, decision.facts))

    def record(self, trace: Trace) -> None:
        """Record one trace of this policy: the rules and rows it tried, and their branch outcomes."""
        self.cases += 1
        for entry in (*trace.first, *trace.add_ons):
            _see(self._rule_branches[entry.rule.id], entry.check)
        for rule in (trace.rule, *trace.collected):
            self._fired[rule.id] += 1
        for table in trace.tables:
            name = table.derived.fact.name
            for i, checked in enumerate(table.rows):
                _see(self._row_branches[(name, i)], checked)
            self._rows[name][-1 if table.row is None else table.row] += 1

    def report(self) -> CoverageReport:
        """The coverage seen so far."""
        rules = tuple(
            RuleCoverage(rule=r.id, hit=r.hit, file=r.file, line=r.line, fired=self._fired[r.id])  # type: ignore[arg-type]
            for r in self.policy.rules
        )
        branches = tuple(
            BranchCoverage(owner=b.owner, file=b.file, line=b.line, path=format_path(b.root + b.part.path), group=b.group,  # type: ignore[arg-type]
                           condition=describe(b.part), true=b.true, false=b.false)
            for group in (*self._rule_branches.values(), *self._row_branches.values())
            for b in group
        )
        rows: list[RowCoverage] = []
        for derived in self.policy.derived:
            hits = self._rows[derived.fact.name]
            for i, (condition, value) in enumerate(derived.rows):
                rows.append(RowCoverage(fact=derived.fact.name, row=i, when=describe(condition), value=value, hits=hits[i]))
            rows.append(RowCoverage(fact=derived.fact.name, row=None, when="no row matched", value=derived.default, hits=hits[-1]))
        rules_hit = sum(r.covered for r in rules)
        outcomes_hit = sum((b.true > 0) + (b.false > 0) for b in branches)
        rows_hit = sum(r.covered for r in rows)
        return CoverageReport(
            cases=self.cases,
            rules=rules,
            branches=branches,
            rows=tuple(rows),
            rule_percent=_percent(rules_hit, len(rules)),
            branch_percent=_percent(outcomes_hit, 2 * len(branches)),
            row_percent=_percent(rows_hit, len(rows)),
            percent=_percent(rules_hit + outcomes_hit + rows_hit, len(rules) + 2 * len(branches) + len(rows)),
        )


def _see(branches: list[_Branch], checked: Check) -> None:
    truth = checked.truth
    for branch in branches:
        if truth[id(branch.part)]:
            branch.true += 1
        else:
            branch.false += 1


def coverage_of(policy: Policy, decisions: Iterable[Decision]) -> CoverageReport:
    """Coverage of ``policy`` by already-made decisions."""
    recorder = CoverageRecorder(policy)
    for decision in decisions:
        recorder.observe(decision)
    return recorder.report()
