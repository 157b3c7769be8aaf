"""Policy tests: named complaints with the parts of the decision their authors promised.

A test file is YAML beside the policy (``<policy dir>/tests/*.yaml``, or ``foo.tests/*.yaml`` for a
single-file policy ``foo.yaml``), read with the same safe, located loader as policies::

    cases:
      - name: viral complaint gets personal outreach
        complaint: {severity: high, channel: social_media, audience: 120000}
        expect:
          action: personal_outreach
          gestures_include: [personal_letter, gift]
          budget: {min: 100, max: 500}
          respond_within: 1h
          reasons_include: [within the hour]

Only what ``expect`` names is checked. Files are validated strictly (unknown keys, unknown
actions, gestures, rules, levels and facts are located errors), because a typo that silently
checks nothing is worse than no test. docs/testing-policies.md is the full reference.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from gesture_engine.complaint import describe, read_value
from gesture_engine.decision import Decision, Frozen, PolicyRef
from gesture_engine.durations import MAX_DURATION, format_duration, parse_duration
from gesture_engine.engine.conditions import show
from gesture_engine.engine.evaluation import Trace, evaluate
from gesture_engine.engine.facts import did_you_mean
from gesture_engine.errors import ComplaintError, GestureError, PolicyError, Problem
from gesture_engine.load.source import Document, PathKey, read_yaml_file
from gesture_engine.policy import Policy
from gesture_engine.tools.coverage import CoverageRecorder, CoverageReport
from gesture_engine.tools.explain import explain_rule
from gesture_engine.tools.invariants import check_invariants

FILE_KEYS = ("description", "cases")
CASE_KEYS = ("name", "description", "complaint", "expect")
EXPECT_KEYS = (
    "action", "rule", "gestures_include", "gestures_exclude", "budget", "approval",
    "respond_within", "fired", "not_fired", "facts", "reasons_include", "owed",
)
BOUND_KEYS = {"budget": ("min", "max"), "approval": ("at_least", "at_most"), "respond_within": ("at_least", "at_most")}


class PolicyTestError(GestureError, ValueError):
    """Test files could not be read; ``problems`` lists every mistake, located, sorted by position.

    A ``ValueError`` too, like the other errors about bad input."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(sorted(problems))
        count = len(self.problems)
        head = f"policy tests have {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


# -- results ---------------------------------------------------------------------------------------
class Mismatch(Frozen):
    """One expectation the decision did not meet."""

    field: str
    expected: str
    actual: str
    note: str = ""
    """Extra context, e.g. why the expected rule did not fire."""

    def __str__(self) -> str:
        extra = f" ({self.note})" if self.note else ""
        return f"{self.field}: expected {self.expected}, got {self.actual}{extra}"


class CaseResult(Frozen):
    """The outcome of one case; ``error`` is set when the policy rejected its complaint."""

    file: str
    line: int
    name: str
    passed: bool
    mismatches: tuple[Mismatch, ...] = ()
    error: str | None = None


class InvariantResult(Frozen):
    """One of the policy's declared invariants: kept, or broken with a counterexample."""

    invariant: str
    file: str
    line: int
    passed: bool
    counterexample: str | None = None
    detail: dict[str, Any] | None = None


class SuiteResult(Frozen):
    """The outcome of every case and invariant, plus coverage when asked for.

    Cases and invariants are counted apart (``passed``/``failed`` are cases only): 25 cases and 4
    invariants are not "29 tests", and an author reading the summary needs to know which failed."""

    policy: PolicyRef
    files: tuple[str, ...]
    cases: tuple[CaseResult, ...]
    invariants: tuple[InvariantResult, ...] = ()
    passed: int
    failed: int
    invariants_kept: int
    invariants_broken: int
    coverage: CoverageReport | None = None

    @property
    def ok(self) -> bool:
        """No case failed and no invariant is broken (coverage minimums are the caller's to judge)."""
        return not self.failed and not self.invariants_broken


# -- loaded cases --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One expectation: a name for messages, the expected value as text, and how to judge a decision."""

    field: str
    expected: str
    actual: Callable[[Decision], str]
    ok: Callable[[Decision], bool]
    rule: str | None = None
    """A rule id whose explanation helps when this check fails."""


@dataclass(frozen=True)
class Case:
    """One named complaint and the checks its decision must pass."""

    file: str
    line: int
    name: str
    complaint: Mapping[str, Any]
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Suite:
    """Every case of the test files of one policy, in file then written order."""

    files: tuple[str, ...]
    cases: tuple[Case, ...]


def find_test_files(policy_path: str | os.PathLike[str]) -> list[Path]:
    """The test files that belong to a policy: ``DIR/tests/*.yaml``, or ``foo.tests/*.yaml`` for ``foo.yaml``."""
    path = Path(policy_path)
    folder = path / "tests" if path.is_dir() else path.with_name(path.stem + ".tests")
    return _yaml_in(folder)



def _yaml_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml")), key=lambda p: p.name)


def expand(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Test files named on a command line: files as given, directories by their ``*.yaml``."""
    out: list[Path] = []
    for item in paths:
        path = Path(item)
        out.extend(_yaml_in(path) if path.is_dir() else [path])
    return out


def load_suite(policy: Policy, paths: Iterable[str | os.PathLike[str]]) -> Suite:
    """Read and validate test files against ``policy``; raise ``PolicyTestError`` listing every problem."""
    problems: list[Problem] = []
    cases: list[Case] = []
    files: list[str] = []
    for path in paths:
        path = Path(path)
        files.append(os.fspath(path))
        try:
            document = read_yaml_file(path)
        except PolicyError as exc:
            problems.extend(
                Problem(p.file, p.line, p.column, p.path, "a test file must be a mapping with a 'cases' list", p.code)
                if p.code == "file-shape" else p
                for p in exc.problems
            )
            continue
        cases.extend(_Reader(policy, document, problems).cases())
    if problems:
        raise PolicyTestError(problems)
    return Suite(tuple(files), tuple(cases))


class _Reader:
    """Turns one test file's data into cases, recording located problems instead of stopping."""

    def __init__(self, policy: Policy, document: Document, problems: list[Problem]) -> None:
        self.policy = policy
        self.doc = document
        self.problems = problems
        self.levels = policy.compiled.ladder.levels

    def fail(self, path: PathKey, message: str, code: str = "test") -> None:
        self.problems.append(self.doc.problem(path, message, code))

    def keys(self, data: Mapping[str, Any], allowed: tuple[str, ...], path: PathKey, what: str) -> bool:
        ok = True
        for key in data:
            if key not in allowed:
                self.fail(path + (key,), f"unknown key {key!r} in {what}{did_you_mean(key, allowed)}; expected one of {', '.join(allowed)}",
                          "unknown-key")
                ok = False
        return ok

    def cases(self) -> list[Case]:
        data = self.doc.data
        self.keys(data, FILE_KEYS, (), "a test file")
        items = data.get("cases")
        if not isinstance(items, list) or not items:
            self.fail(("cases",) if "cases" in data else (), "a test file needs a non-empty 'cases' list")
            return []
        out: list[Case] = []
        names: dict[str, int] = {}
        for i, item in enumerate(items):
            path: PathKey = ("cases", i)
            if not isinstance(item, dict):
                self.fail(path, "a case is a mapping with name, complaint and expect")
                continue
            self.keys(item, CASE_KEYS, path, "a case")
            name = item.get("name")
            if not isinstance(name, str) or not name.strip():
                self.fail(path + ("name",) if "name" in item else path, "a case needs a 'name' (text)")
                name = f"cases[{i}]"
            elif name in names:
                self.fail(path + ("name",), f"duplicate case name {name!r} (first used by cases[{names[name]}])", "duplicate-case")
            names.setdefault(name, i)
            complaint = item.get("complaint")
            if not isinstance(complaint, dict):
                self.fail(path + ("complaint",) if "complaint" in item else path, "a case needs a 'complaint' mapping of facts")
            expect = item.get("expect")
            if not isinstance(expect, dict) or not expect:
                self.fail(path + ("expect",) if "expect" in item else path, "a case needs an 'expect' mapping with at least one expectation")
                continue
            checks = self.expectations(expect, path + ("expect",))
            if isinstance(complaint, dict):
                where = self.doc.locate(path)
                out.append(Case(where.file, where.line, name, complaint, tuple(checks)))
        return out

    # -- expectations ----------------------------------------------------------------------------
    def expectations(self, expect: Mapping[str, Any], path: PathKey) -> list[Check]:
        self.keys(expect, EXPECT_KEYS, path, "expect")
        checks: list[Check] = []
        for key in EXPECT_KEYS:
            if key in expect:
                made = getattr(self, "_" + key)(expect[key], path + (key,))
                checks.extend(made)
        return checks

    def _known(self, value: Any, path: PathKey, choices: Iterable[str], what: str) -> str | None:
        choices = list(choices)
        if isinstance(value, str) and value in choices:
            return value
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        self.fail(path, f"unknown {what} {value!r}{hint}", f"unknown-{what.replace(' ', '-')}")
        return None

    def _names(self, value: Any, path: PathKey, choices: Iterable[str], what: str) -> list[str]:
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a non-empty list of {what}s")
            return []
        options = list(choices)
        found = [self._known(item, path + (i,), options, what) for i, item in enumerate(value)]
        return [name for name in found if name is not None]

    def _bounds(self, value: Any, path: PathKey, key: str) -> dict[str, Any] | None:
        """A ``{min/max}`` or ``{at_least/at_most}`` mapping, checked for its keys."""
        allowed = BOUND_KEYS[key]
        if not value or not self.keys(value, allowed, path, key):
            if not value:
                self.fail(path, f"give {' and/or '.join(allowed)}")
            return None
        return dict(value)

    def _action(self, value: Any, path: PathKey) -> list[Check]:
        action = self._known(value, path, self.policy.actions, "action")
        if action is None:
            return []
        return [Check("action", action, lambda d: d.action, lambda d: d.action == action)]

    def _rule(self, value: Any, path: PathKey) -> list[Check]:
        rule = self._known(value, path, (r.id for r in self.policy.rules if r.hit != "collect"), "first-hit rule")
        if rule is None:
            return []
        return [Check("rule", rule, lambda d: d.rule, lambda d: d.rule == rule, rule=rule)]

    def _gestures_include(self, value: Any, path: PathKey) -> list[Check]:
        return [
            Check("gestures_include", gid, _gesture_ids, _has_gesture(gid, True))
            for gid in self._names(value, path, self.policy.gestures, "gesture")
        ]

    def _gestures_exclude(self, value: Any, path: PathKey) -> list[Check]:
        return [
            Check("gestures_exclude", f"no {gid}", _gesture_ids, _has_gesture(gid, False))
            for gid in self._names(value, path, self.policy.gestures, "gesture")
        ]

    def _fired(self, value: Any, path: PathKey) -> list[Check]:
        return [
            Check("fired", rid, _fired_ids, _has_fired(rid, True), rule=rid)
            for rid in self._names(value, path, (r.id for r in self.policy.rules), "rule")
        ]

    def _not_fired(self, value: Any, path: PathKey) -> list[Check]:
        return [
            Check("not_fired", f"not {rid}", _fired_ids, _has_fired(rid, False))
            for rid in self._names(value, path, (r.id for r in self.policy.rules), "rule")
        ]

    def _money(self, value: Any, path: PathKey) -> Decimal | None:
        amount = _decimal(value)
        if amount is None or amount < 0:
            self.fail(path, f"expected an amount of money ≥ 0 (e.g. 120 or 120.50); got {value!r}", "type-mismatch")
            return None
        return amount

    def _budget(self, value: Any, path: PathKey) -> list[Check]:
        amount_of: Callable[[Decision], str] = lambda d: f"{d.budget.amount}"
        if not isinstance(value, dict):
            exact = self._money(value, path)
            if exact is None:
                return []
            return [Check("budget", f"{exact}", amount_of, lambda d: d.budget.amount == exact)]
        bounds = self._bounds(value, path, "budget")
        if bounds is None:
            return []
        low = self._money(bounds["min"], path + ("min",)) if "min" in bounds else None
        high = self._money(bounds["max"], path + ("max",)) if "max" in bounds else None
        if low is not None and high is not None and low > high:
            self.fail(path + ("min",), f"min {low} is above max {high}", "bounds")
            return []
        checks = []
        if low is not None:
            checks.append(Check("budget", f"≥ {low}", amount_of, lambda d: d.budget.amount >= low))
        if high is not None:
            checks.append(Check("budget", f"≤ {high}", amount_of, lambda d: d.budget.amount <= high))
        return checks

    def _approval(self, value: Any, path: PathKey) -> list[Check]:
        levels = self.levels
        level_of: Callable[[Decision], str] = lambda d: d.approval.level
        if not isinstance(value, dict):
            level = self._known(value, path, levels, "approval level")
            return [] if level is None else [Check("approval", level, level_of, lambda d: d.approval.level == level)]
        bounds = self._bounds(value, path, "approval")
        if bounds is None:
            return []
        checks = []
        for key, word in (("at_least", "at least"), ("at_most", "at most")):
            if key in bounds:
                level = self._known(bounds[key], path + (key,), levels, "approval level")
                if level is not None:
                    checks.append(Check("approval", f"{word} {level}", level_of, _level_bound(levels, level, key == "at_least")))
        return checks

    def _duration(self, value: Any, path: PathKey) -> int | None:
        seconds = parse_duration(value) if isinstance(value, str) else None
        if seconds is None:
            self.fail(path, f"{describe(value)} is not a duration like 30m, 4h or 1d (at most {MAX_DURATION})", "duration")
        return seconds

    def _respond_within(self, value: Any, path: PathKey) -> list[Check]:
        within: Callable[[Decision], str] = lambda d: d.respond_within
        if not isinstance(value, dict):
            exact = self._duration(value, path)
            if exact is None:
                return []
            return [Check("respond_within", format_duration(exact), within, lambda d: d.respond_within_seconds == exact)]
        bounds = self._bounds(value, path, "respond_within")
        if bounds is None:
            return []
        checks = []
        for key, word in (("at_least", "at least"), ("at_most", "at most")):
            if key in bounds:
                limit = self._duration(bounds[key], path + (key,))
                if limit is not None:
                    checks.append(Check("respond_within", f"{word} {format_duration(limit)}", within, _within_bound(limit, key == "at_least")))
        return checks

    def _facts(self, value: Any, path: PathKey) -> list[Check]:
        if not isinstance(value, dict) or not value:
            self.fail(path, "expected a mapping of fact names to values")
            return []
        known = self.policy.all_facts
        checks = []
        for name, raw in value.items():
            fact = known.get(name)
            if fact is None:
                self.fail(path + (name,), f"unknown fact {name!r}{did_you_mean(name, known)}", "unknown-fact")
                continue
            try:
                expected = read_value(fact, raw)
            except ValueError as exc:
                self.fail(path + (name,), f"{name}: {exc}", "type-mismatch")
                continue
            checks.append(Check(f"facts.{name}", _text(expected), _fact_text(name), _fact_is(name, expected)))
        return checks

    def _owed(self, value: Any, path: PathKey) -> list[Check]:
        """Exact amounts owed by gesture (``{refund: 42.50}``); ``{}`` promises nothing is owed."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of gestures to amounts owed; got {value!r}", "type-mismatch")
            return []
        shown: Callable[[Decision], str] = lambda d: ", ".join(f"{o.gesture} {o.amount}" for o in d.owed) or "nothing owed"
        if not value:
            return [Check("owed", "nothing owed", shown, lambda d: not d.owed)]
        checks = []
        for gesture, raw in value.items():
            if self._known(gesture, path + (gesture,), self.policy.gestures, "gesture") is None:
                continue
            amount = self._money(raw, path + (gesture,))
            if amount is not None:
                checks.append(Check("owed", f"{gesture} {amount}", shown, _owes(gesture, amount)))
        return checks

    def _reasons_include(self, value: Any, path: PathKey) -> list[Check]:
        """Texts some reason must contain; blank text is refused, since it would match any decision."""
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a non-empty list of texts that must appear in the decision's reasons; got {value!r}",
                      "type-mismatch")
            return []
        checks = []
        for i, text in enumerate(value):
            if not isinstance(text, str) or not text.strip():
                self.fail(path + (i,), f"expected a non-empty text; got {text!r}", "type-mismatch")
                continue
            checks.append(Check("reasons_include", json.dumps(text, ensure_ascii=False), _reasons_shown, _has_reason(text)))
        return checks


def _owes(gesture: str, amount: Decimal) -> Callable[[Decision], bool]:
    return lambda d: any(o.gesture == gesture and o.amount == amount for o in d.owed)


def _decimal(value: Any) -> Decimal | None:
    """Money as written in a test file: YAML numbers arrive as int or exact Decimal; text also works."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except ArithmeticError:
            return None
        return amount if amount.is_finite() else None
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (timedelta, date, tuple)):
        return show(value)  # 2h30m, 2026-11-23T09:30:00Z, [vip, press]
    return str(value)


def _has_gesture(gesture: str, wanted: bool) -> Callable[[Decision], bool]:
    return lambda d: any(g.id == gesture for g in d.gestures) == wanted


def _has_fired(rule: str, wanted: bool) -> Callable[[Decision], bool]:
    return lambda d: any(t.rule == rule and t.fired for t in d.trace) == wanted


def _level_bound(levels: tuple[str, ...], level: str, at_least: bool) -> Callable[[Decision], bool]:
    rank = levels.index(level)
    if at_least:
        return lambda d: levels.index(d.approval.level) >= rank
    return lambda d: levels.index(d.approval.level) <= rank


def _within_bound(seconds: int, at_least: bool) -> Callable[[Decision], bool]:
    if at_least:
        return lambda d: d.respond_within_seconds >= seconds
    return lambda d: d.respond_within_seconds <= seconds


def _fact_text(name: str) -> Callable[[Decision], str]:
    return lambda d: _text(d.facts[name])


def _fact_is(name: str, expected: Any) -> Callable[[Decision], bool]:
    return lambda d: bool(d.facts[name] == expected)


def _reason_texts(decision: Decision) -> tuple[str, ...]:
    """Every sentence a decision gives as its why: the rules' reasons, the budget's arithmetic, the approval's reasons."""
    budget = decision.budget
    return (*decision.reasons, budget.summary, *(step.text for step in budget.steps), *decision.approval.reasons)


def _has_reason(text: str) -> Callable[[Decision], bool]:
    return lambda d: any(text in reason for reason in _reason_texts(d))


def _reasons_shown(decision: Decision) -> str:
    """The texts searched, as JSON strings; the budget's steps are left out, its summary already holds them."""
    shown = (*decision.reasons, decision.budget.summary, *decision.approval.reasons)
    return "[" + ", ".join(json.dumps(text, ensure_ascii=False) for text in shown) + "]"


def _gesture_ids(decision: Decision) -> str:
    return "[" + ", ".join(g.id for g in decision.gestures) + "]"


def _fired_ids(decision: Decision) -> str:
    return "[" + ", ".join(t.rule for t in decision.trace if t.fired) + "]"


# -- running -------------------------------------------------------------------------------------
def run_case(policy: Policy, case: Case) -> tuple[CaseResult, Decision | None]:
    """Decide one case and judge every check; a rejected complaint is a failed case, not a crash.

    A failed check about a rule is told why from the evaluator's trace of the decision, made only then."""
    try:
        decision = policy.decide(case.complaint)
    except ComplaintError as exc:
        error = "complaint rejected: " + "; ".join(str(p) for p in exc.problems)
        return CaseResult(file=case.file, line=case.line, name=case.name, passed=False, error=error), None
    trace: Trace | None = None
    mismatches: list[Mismatch] = []
    for check in case.checks:
        if check.ok(decision):
            continue
        note = ""
        if check.rule is not None:
            trace = trace or evaluate(policy.compiled, decision.facts)
            rule = next(r for r in policy.rules if r.id == check.rule)
            note = f"{check.rule}: {explain_rule(rule, trace).note}"
        mismatches.append(Mismatch(field=check.field, expected=check.expected, actual=check.actual(decision), note=note))
    result = CaseResult(file=case.file, line=case.line, name=case.name, passed=not mismatches, mismatches=tuple(mismatches))
    return result, decision


def run_suite(policy: Policy, suite: Suite, *, coverage: bool = False, invariants: bool = True) -> SuiteResult:
    """Run every case, then search for counterexamples to the policy's declared ``invariants``.

    With ``coverage`` also record what the cases exercised (see ``gesture_engine.tools.coverage``).
    """
    recorder = CoverageRecorder(policy) if coverage else None
    results: list[CaseResult] = []
    for case in suite.cases:
        result, decision = run_case(policy, case)
        results.append(result)
        if recorder is not None and decision is not None:
            recorder.observe(decision)
    checked = check_policy_invariants(policy) if invariants else ()
    passed = sum(r.passed for r in results)
    kept = sum(r.passed for r in checked)
    return SuiteResult(
        policy=PolicyRef(name=policy.name, version=policy.version, fingerprint=policy.fingerprint),
        files=suite.files,
        cases=tuple(results),
        invariants=checked,
        passed=passed,
        failed=len(results) - passed,
        invariants_kept=kept,
        invariants_broken=len(checked) - kept,
        coverage=None if recorder is None else recorder.report(),
    )


def check_policy_invariants(policy: Policy) -> tuple[InvariantResult, ...]:
    """Each declared invariant with the counterexample found for it, if any (see ``gesture_engine.tools.invariants``)."""
    broken = {id(example.invariant): example for example in check_invariants(policy)}
    results = []
    for invariant in policy.compiled.invariants:
        example = broken.get(id(invariant))
        results.append(InvariantResult(
            invariant=invariant.description or invariant.describe(), file=invariant.file, line=invariant.line,
            passed=example is None, counterexample=None if example is None else str(example),
            detail=None if example is None else example.to_dict(),
        ))
    return tuple(results)
