"""gesture_engine.tools.coverage and ``gesture test --coverage``: what a set of cases exercised."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import Policy, load_policy
from gesture_engine.resources import default_policy_path
from gesture_engine.tools.coverage import CoverageRecorder, coverage_of
from gesture_engine.tools.testing import find_test_files, load_suite, run_suite


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_the_default_tests_cover_the_whole_default_policy(default_policy: Policy) -> None:
    result = run_suite(default_policy, load_suite(default_policy, find_test_files(default_policy_path())), coverage=True)
    report = result.coverage
    assert report is not None
    assert report.uncovered() == []
    assert (report.rule_percent, report.branch_percent, report.row_percent, report.percent) == (Decimal("100.0"),) * 4
    assert len(report.rules) == len(default_policy.rules)
    assert report.cases == len(result.cases)


def test_one_case_leaves_most_things_uncovered(default_policy: Policy) -> None:
    report = coverage_of(default_policy, [default_policy.decide({"severity": "low", "channel": "email"})])
    fired = {r.rule for r in report.rules if r.covered}
    assert fired == {"apologise-and-fix"}
    rows = {(r.fact, r.row): r.hits for r in report.rows}
    assert rows[("tier", None)] == 1 and rows[("visibility", None)] == 1 and rows[("tier", 0)] == 0
    goodwill = [b for b in report.branches if b.owner == "rule goodwill-credit"]
    assert [(b.group, b.condition, b.true, b.false) for b in goodwill] == [
        ("any", "severity at_least medium", 0, 1),
        ("any", "tier at_least silver", 0, 1),
        ("any", "visibility at_least public", 0, 1),
    ]
    lines = report.uncovered()
    assert any(line.endswith("rule staff-misconduct never fired") for line in lines)
    assert any("rule goodwill-credit: any part rules[4].when.any[1]" in line and line.endswith("never true") for line in lines)
    assert "derived tier: row 1 (customer_value gte 10000) -> platinum never used" in lines
    # 1 rule of 12; 9 of 18 branch outcomes (every part seen false once); 2 defaults of 7 rows
    assert report.summary() == "coverage 32.4% (rules 1/12, branch outcomes 9/18, table rows 2/7) over 1 case"


def test_branches_count_only_where_the_rule_or_row_was_reached(default_policy: Policy) -> None:
    viral = default_policy.decide({"severity": "high", "channel": "press", "audience": 50000, "customer_value": 20000})
    report = coverage_of(default_policy, [viral])
    goodwill = [b for b in report.branches if b.owner == "rule goodwill-credit"]
    assert all(b.true == b.false == 0 for b in goodwill)  # after the winner: not evaluated
    crisis = [b for b in report.branches if b.owner == "rule public-crisis"]
    assert [(b.true, b.false) for b in crisis] == [(1, 0), (1, 0)]
    remember = [b for b in report.branches if b.owner == "rule remember-when"]  # collect rules are always reached
    assert [(b.true, b.false) for b in remember] == [(1, 0), (0, 1)]
    # tier matched row 1, so rows 2 and 3 were never tried; the visibility row 1 is an `all` of two parts
    assert {(r.fact, r.row): r.hits for r in report.rows}[("tier", 0)] == 1
    viral_row = [b for b in report.branches if b.owner == "derived visibility row 1"]
    assert [(b.group, b.condition, b.true, b.false, b.file) for b in viral_row] == [
        ("all", "channel in [social_media, press, app_review]", 1, 0, None),
        ("all", "audience gte 10000", 1, 0, None),
    ]


NESTED = """\
policy: nested
version: "1"
currency: USD
budget_cap: 100
facts:
  severity: {type: level, values: [low, medium, high], required: true}
  channel: {type: enum, values: [email, phone, social], default: email}
gestures:
  apology: {label: Apology}
actions:
  sorry: {label: Say sorry}
approval:
  levels: [agent]
  ladder:
    - {level: agent}
rules:
  - id: loud
    when:
      any:
        - severity: high
        - all: [{channel: social}, {not: {severity: low}}]
    then: {action: sorry, respond_within: 1h}
  - id: fallback
    default: true
    then: {action: sorry, respond_within: 1d}
"""


def test_nested_groups_and_percentages(write_policy: Callable[..., Path]) -> None:
    policy = load_policy(write_policy(NESTED))
    recorder = CoverageRecorder(policy)
    recorder.observe(policy.decide({"severity": "medium", "channel": "social"}))
    report = recorder.report()
    parts = [(b.group, b.condition, b.true, b.false) for b in report.branches]
    assert parts == [
        ("any", "severity eq high", 0, 1),
        ("any", "channel eq social and not (severity eq low)", 1, 0),
        ("all", "channel eq social", 1, 0),
        ("all", "not (severity eq low)", 1, 0),
    ]
    assert (report.rule_percent, report.branch_percent, report.row_percent) == (Decimal("50.0"), Decimal("50.0"), Decimal("100.0"))
    assert report.percent == Decimal("50.0")  # (1 rule + 4 outcomes) of (2 + 8); no derived tables
    recorder.observe(policy.decide({"severity": "low", "channel": "email"}))
    recorder.observe(policy.decide({"severity": "high", "channel": "email"}))
    assert recorder.report().uncovered() == []


def test_cli_coverage_report_and_minimum(tmp_path: Path) -> None:
    code, out, _ = run("test", "--coverage")
    assert code == 0
    assert "coverage 100.0% (rules 12/12" in out and "not covered" not in out
    assert out.splitlines()[-1].endswith(" passed, 0 failed; 4 invariants kept, 0 broken")
    code, _, _ = run("test", "--min-coverage", "100")
    assert code == 0

    one = tmp_path / "one.yaml"
    one.write_text("cases:\n  - name: minor\n    complaint: {severity: low, channel: email}\n    expect: {budget: 0}\n", encoding="utf-8")
    code, out, err = run("test", "--tests", str(one), "--coverage", "--min-coverage", "90", "--no-invariants")
    assert code == 1
    assert "  not covered: " in out and "rule staff-misconduct never fired" in out
    assert out.splitlines()[-1] == "1 passed, 0 failed"
    assert "coverage 32.4% is below --min-coverage 90%" in err
    assert run("test", "--tests", str(one), "--min-coverage", "30")[0] == 0
    code, _, err = run("test", "--min-coverage", "150")
    assert code == 2 and "between 0 and 100" in err
