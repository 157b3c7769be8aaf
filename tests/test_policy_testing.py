"""gesture_engine.tools.testing and ``gesture test``: policy test files, their validation, and the runner."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import Policy, load_policy
from gesture_engine.resources import default_policy_path
from gesture_engine.tools.testing import PolicyTestError, find_test_files, load_suite, run_suite
from tests.conftest import MINIMAL

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:; (\d+) invariants? kept, (\d+) broken)?$", re.MULTILINE)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")
    return path


PASSING = """\
cases:
  - name: high severity pays
    complaint: {severity: high}
    expect:
      action: pay
      rule: high
      gestures_include: [credit]
      budget: 40.00
      approval: agent
      respond_within: 2h
  - name: low severity says sorry
    complaint: {severity: low, channel: social}
    expect:
      action: sorry
      gestures_exclude: [credit]
      budget: {min: 0, max: 0}
      respond_within: {at_least: 1d, at_most: 24h}
      approval: {at_most: agent}
      fired: [fallback]
      not_fired: [high]
      facts: {channel: social, spend: 0}
"""


# -- the default policy's own tests ------------------------------------------------------------
def test_the_default_policy_passes_its_own_tests(default_policy: Policy) -> None:
    files = find_test_files(default_policy_path())
    assert len(files) >= 5
    result = run_suite(default_policy, load_suite(default_policy, files))
    failures = [f"{c.file}:{c.line}: {c.name}: {c.error or [str(m) for m in c.mismatches]}" for c in result.cases if not c.passed]
    assert failures == []
    assert (result.passed, result.failed) == (len(result.cases), 0) and len(result.cases) >= 20
    assert (result.invariants_kept, result.invariants_broken, len(result.invariants)) == (4, 0, 4) and result.ok


def test_the_default_tests_encode_the_product_scenarios(default_policy: Policy) -> None:
    suite = load_suite(default_policy, find_test_files(default_policy_path()))
    checks = {case.name: {(c.field, c.expected) for c in case.checks} for case in suite.cases}
    viral = checks["viral high-severity complaint gets fast personal outreach"]
    assert {("action", "personal_outreach"), ("respond_within", "1h"), ("gestures_include", "gift"),
            ("gestures_include", "personal_letter"), ("gestures_include", "account_credit")} <= viral
    misconduct = checks["staff misconduct gets an executive apology and call"]
    assert {("action", "executive_apology"), ("gestures_include", "executive_call"),
            ("gestures_include", "free_service_months"), ("approval", "at least manager")} <= misconduct
    stock = checks["out of stock gets an honest date or a referral and no money"]
    assert {("action", "honest_eta"), ("gestures_include", "eta_update"), ("gestures_include", "competitor_referral"),
            ("budget", "0")} <= stock
    minor = checks["minor private complaint from a small customer is apologise and fix, no spend"]
    assert {("action", "apologise_and_fix"), ("budget", "0")} <= minor
    assert ("budget", "20.00") in checks["goodwill already given reduces the budget"]


def test_cli_runs_the_default_tests_and_ends_with_the_summary() -> None:
    code, out, _ = run("test")
    assert code == 0
    found = SUMMARY.search(out)
    assert found is not None and out.splitlines()[-1] == found.group(0)
    assert (found.group(2), found.group(3), found.group(4)) == ("0", "4", "0")  # cases and invariants counted apart


# -- the format ----------------------------------------------------------------------------------
def test_every_kind_of_expectation_passes_when_met(write_policy: Callable[..., Path], tmp_path: Path) -> None:
    policy_path = write_policy()
    write(tmp_path / "policy.tests" / "basic.yaml", PASSING)
    policy = load_policy(policy_path)
    result = run_suite(policy, load_suite(policy, find_test_files(policy_path)))
    assert (result.passed, result.failed, result.invariants_kept, result.invariants_broken) == (2, 0, 0, 0) and result.ok
    assert [c.line for c in result.cases] == [2, 11]


def test_money_expectations_are_exact_decimals(write_policy: Callable[..., Path], tmp_path: Path) -> None:
    policy = load_policy(write_policy())
    tests = write(tmp_path / "t.yaml", """\
        cases:
          - {name: as number, complaint: {severity: high}, expect: {budget: 40.0}}
          - {name: as text, complaint: {severity: high}, expect: {budget: "40.00"}}
          - {name: a cent off, complaint: {severity: high}, expect: {budget: 40.01}}
    """)
    suite = load_suite(policy, [tests])
    assert suite.cases[2].checks[0].expected == "40.01"
    result = run_suite(policy, suite)
    assert [c.passed for c in result.cases] == [True, True, False]
    assert str(result.cases[2].mismatches[0]) == "budget: expected 40.01, got 40.00"
    assert Decimal(result.cases[2].mismatches[0].actual) == Decimal("40")


def test_failures_show_expected_and_actual_with_the_case_location(write_policy: Callable[..., Path], tmp_path: Path) -> None:
    policy_path = write_policy()
    write(tmp_path / "policy.tests" / "wrong.yaml", """\
        cases:
          - name: right
            complaint: {severity: high}
            expect: {action: pay}
          - name: wrong
            complaint: {severity: medium}
            expect:
              rule: high
              budget: {min: 10}
              gestures_include: [credit]
          - name: rejected
            complaint: {severity: extreme}
            expect: {action: pay}
    """)
    code, out, _ = run("test", str(policy_path))
    assert code == 1
    lines = out.splitlines()
    where = f"{tmp_path / 'policy.tests' / 'wrong.yaml'}:5: wrong"
    assert f"{where}: rule: expected high, got fallback (high: severity at_least high: actual medium)" in lines
    assert f"{where}: budget: expected ≥ 10, got 0.00" in lines
    assert f"{where}: gestures_include: expected credit, got [apology]" in lines
    assert any(line.startswith(f"{tmp_path / 'policy.tests' / 'wrong.yaml'}:11: rejected: complaint rejected: severity:") for line in lines)
    assert lines[-1] == "1 passed, 2 failed"


def test_json_output_lists_every_case(write_policy: Callable[..., Path], tmp_path: Path) -> None:
    policy_path = write_policy()
    tests = write(tmp_path / "t.yaml", PASSING.replace("budget: 40.00", "budget: 41"))
    code, out, _ = run("test", str(policy_path), "--tests", str(tests), "--json")
    assert code == 1
    data = json.loads(out)
    assert (data["passed"], data["failed"], data["coverage"]) == (1, 1, None)
    assert (data["invariants"], data["invariants_kept"], data["invariants_broken"]) == ([], 0, 0)
    assert data["cases"][0]["mismatches"] == [{"field": "budget", "expected": "41", "actual": "40.00", "note": ""}]


def test_reasons_include_finds_text_in_every_reason_of_the_decision(write_policy: Callable[..., Path], tmp_path: Path) -> None:
    policy = load_policy(write_policy())
    tests = write(tmp_path / "t.yaml", """\
        cases:
          - name: one text from each kind of reason
            complaint: {severity: high}
            expect:
              reasons_include:
                - rule high applies          # the rules' reasons
                - base 40.00                 # the budget's arithmetic
                - "within agent's limit"     # the approval's reasons
          - name: case-sensitive and every text must appear
            complaint: {severity: high}
            expect: {reasons_include: [rule high, Rule high, manager]}
    """)
    result = run_suite(policy, load_suite(policy, [tests]))
    assert [c.passed for c in result.cases] == [True, False]
    shown = """["rule high applies", "base 40.00", "budget 40.00 USD is within agent's limit of 50.00 USD"]"""
    assert [str(m) for m in result.cases[1].mismatches] == [
        f'reasons_include: expected "Rule high", got {shown}',
        f'reasons_include: expected "manager", got {shown}',
    ]
    code, out, _ = run("test", str(write_policy(name="p.yaml")), "--tests", str(tests))
    assert code == 1 and f'{tests}:9: case-sensitive and every text must appear: reasons_include: expected "manager", got {shown}' in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"


@pytest.mark.parametrize(
    ("value", "where", "column"),
    [
        ("within the hour", "cases[0].expect.reasons_include", 31),
        ("[]", "cases[0].expect.reasons_include", 14),  # an empty list is located at its key
        ("[ok, 3]", "cases[0].expect.reasons_include[1]", 36),
        ('[ok, ""]', "cases[0].expect.reasons_include[1]", 36),
        ("[ok, '  ']", "cases[0].expect.reasons_include[1]", 36),
        ("[ok, [nested]]", "cases[0].expect.reasons_include[1]", 36),
    ],
)
def test_reasons_include_takes_a_list_of_non_empty_texts(write_policy: Callable[..., Path], tmp_path: Path,
                                                         value: str, where: str, column: int) -> None:
    tests = write(tmp_path / "t.yaml", f"cases:\n  - name: x\n    complaint: {{severity: high}}\n    expect: {{reasons_include: {value}}}\n")
    with pytest.raises(PolicyTestError) as caught:
        load_suite(load_policy(write_policy()), [tests])
    assert [(p.line, p.column, p.path, p.code) for p in caught.value.problems] == [(4, column, where, "type-mismatch")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {acton: pay}\n",
         "t.yaml:4:21: cases[0].expect.acton: unknown key 'acton' in expect (did you mean 'action'?)"),
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {action: pya}\n",
         "t.yaml:4:22: cases[0].expect.action: unknown action 'pya' (did you mean 'pay'?)"),
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {gestures_include: [credt]}\n",
         "cases[0].expect.gestures_include[0]: unknown gesture 'credt' (did you mean 'credit'?)"),
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {rule: hihg}\n",
         "cases[0].expect.rule: unknown first-hit rule 'hihg' (did you mean 'high'?)"),
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {budget: {min: 5, max: 1}}\n",
         "cases[0].expect.budget.min: min 5 is above max 1"),
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {budget: -3}\n",
         "cases[0].expect.budget: expected an amount of money ≥ 0"),
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {approval: {at_least: boss}}\n",
         "cases[0].expect.approval.at_least: unknown approval level 'boss'"),
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {respond_within: soon}\n",
         "cases[0].expect.respond_within: 'soon' is not a duration"),
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {respond_within: 99999999999d}\n",
         "cases[0].expect.respond_within: '99999999999d' is not a duration like 30m, 4h or 1d (at most 3650d)"),
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {respond_within: \"2h\\n\"}\n",
         "cases[0].expect.respond_within: '2h\\n' is not a duration"),
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {facts: {tier: gold}}\n",
         "cases[0].expect.facts.tier: unknown fact 'tier'"),
        ("cases:\n  - name: x\n    complaint: {severity: high}\n    expect: {}\n",
         "cases[0].expect: a case needs an 'expect' mapping with at least one expectation"),
        ("cases:\n  - {name: x, complaint: {severity: high}, expect: {action: pay}}\n  - {name: x, complaint: {}, expect: {action: pay}}\n",
         "cases[1].name: duplicate case name 'x'"),
        ("case: []\n", "unknown key 'case' in a test file (did you mean 'cases'?)"),
        ("- 1\n", "t.yaml:1:1: a test file must be a mapping with a 'cases' list"),
        ("cases: [\n", "invalid YAML"),
    ],
)
def test_broken_test_files_are_located_errors(write_policy: Callable[..., Path], tmp_path: Path, text: str, message: str) -> None:
    policy_path = write_policy()
    tests = tmp_path / "t.yaml"
    tests.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyTestError) as caught:
        load_suite(load_policy(policy_path), [tests])
    assert any(message in str(p) for p in caught.value.problems), caught.value
    code, out, err = run("test", str(policy_path), "--tests", str(tests))
    assert code == 4 and message in err and "Traceback" not in err and "passed" not in out


def test_tests_are_found_beside_the_policy(write_policy: Callable[..., Path], tmp_path: Path) -> None:
    single = write_policy(name="single/foo.yaml")
    write(tmp_path / "single" / "foo.tests" / "a.yaml", PASSING)
    write(tmp_path / "single" / "tests" / "ignored.yaml", "not: read\n")
    assert [p.name for p in find_test_files(single)] == ["a.yaml"]
    directory = write_policy(name="dir/policy.yaml").parent
    write(directory / "tests" / "b.yml", PASSING)
    write(directory / "tests" / "c.yaml", PASSING)
    assert [p.name for p in find_test_files(directory)] == ["b.yml", "c.yaml"]
    load_policy(directory)  # tests/ is not part of the policy
    code, out, _ = run("test", str(directory))
    assert code == 0 and out.splitlines()[-1] == "4 passed, 0 failed"
    code, out, _ = run("test", str(directory), "--tests", str(directory / "tests" / "c.yaml"))
    assert code == 0 and out.splitlines()[-1] == "2 passed, 0 failed"


def test_no_tests_or_a_broken_policy_is_exit_4(write_policy: Callable[..., Path]) -> None:
    lonely = write_policy(name="lonely.yaml")
    code, _, err = run("test", str(lonely))
    assert code == 4 and "no test files" in err and "lonely.tests" in err
    broken = write_policy(MINIMAL.replace("action: pay", "action: pya"), name="broken.yaml")
    code, _, err = run("test", str(broken))
    assert code == 4 and "unknown action 'pya'" in err


def test_declared_invariants_run_as_tests_and_report_counterexamples(tmp_path: Path) -> None:
    import shutil

    from click.testing import CliRunner

    from gesture_cli.main import cli
    from gesture_engine.resources import default_policy_path

    policy = tmp_path / "acme"
    shutil.copytree(default_policy_path(), policy)
    rules = policy / "rules.yaml"
    # critical now gets less than high in the serious-failure rule: breaks "budget monotone in severity"
    old, new = "{low: 50, medium: 50, high: 50, critical: 100}", "{low: 50, medium: 50, high: 50, critical: 10}"
    text = rules.read_text(encoding="utf-8").replace(old, new)
    rules.write_text(text, encoding="utf-8")
    shutil.rmtree(policy / "tests")  # only the invariants are under test here
    (policy / "tests").mkdir()
    (policy / "tests" / "one.yaml").write_text(
        "cases:\n  - name: minor\n    complaint: {severity: low, channel: email}\n    expect: {action: apologise_and_fix}\n",
        encoding="utf-8")
    result = CliRunner().invoke(cli, ["test", str(policy)])
    assert result.exit_code == 1, result.output  # every case passed: the broken invariant alone fails the run
    assert "budget is monotone increasing in severity is broken: severity=high gives" in result.output
    assert result.output.strip().splitlines()[-1] == "1 passed, 0 failed; 3 invariants kept, 1 broken"
    data = json.loads(CliRunner().invoke(cli, ["test", str(policy), "--json"]).stdout)
    assert (data["passed"], data["failed"], data["invariants_kept"], data["invariants_broken"]) == (1, 0, 3, 1)
    assert [i["passed"] for i in data["invariants"]].count(False) == 1
    loaded = load_policy(policy)
    suite = run_suite(loaded, load_suite(loaded, find_test_files(policy)))
    assert (suite.passed, suite.failed, suite.invariants_broken) == (1, 0, 1) and not suite.ok
    skipped = CliRunner().invoke(cli, ["test", str(policy), "--no-invariants"])
    assert skipped.exit_code == 0 and skipped.output.strip().splitlines()[-1] == "1 passed, 0 failed"


def test_a_failed_case_fails_the_run_beside_kept_invariants(write_policy: Callable[..., Path], tmp_path: Path) -> None:
    policy = write_policy(MINIMAL + "invariants:\n  - {monotone: budget, in: severity}\n")
    tests = write(tmp_path / "t.yaml", "cases:\n  - {name: x, complaint: {severity: high}, expect: {action: sorry}}\n")
    code, out, _ = run("test", str(policy), "--tests", str(tests))
    assert code == 1 and out.splitlines()[-1] == "0 passed, 1 failed; 1 invariant kept, 0 broken"
