"""``gesture test``: run a policy's test cases and report failures and coverage like a test runner.

The runner and coverage live in gesture_engine/tools/testing.py and gesture_engine/tools/coverage.py; this
module only finds the files, prints results and chooses the exit code.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from gesture_engine.resources import default_policy_path
from gesture_engine.tools.testing import PolicyTestError, SuiteResult, expand, find_test_files, load_suite, run_suite

from ._shared import EXIT_BAD_POLICY, EXIT_FAILED, EXIT_OK, json_option, load


def _shown(path: Path) -> str:
    """Paths under the working directory are printed relative to it, so file:line stays short."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else os.fspath(path)


def _percent(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value.rstrip("%"))
    except InvalidOperation:
        number = Decimal(-1)
    if not number.is_finite() or not 0 <= number <= 100:
        raise click.BadParameter(f"{value!r} is not a percentage between 0 and 100", param_hint="--min-coverage")
    return number


@click.command(name="test")
@json_option
@click.option("--tests", "-t", "test_paths", multiple=True, metavar="PATH",
              help="Test file or directory (repeatable) [default: POLICY/tests/*.yaml, or foo.tests/*.yaml for foo.yaml].")
@click.option("--coverage", is_flag=True, help="Report rules, condition branches and table rows no case exercised.")
@click.option("--min-coverage", metavar="PCT", help="Fail (exit 1) when total coverage is below PCT percent.")
@click.option("--verbose", "-v", is_flag=True, help="Also list passing cases.")
@click.option("--no-invariants", is_flag=True, help="Skip the search for counterexamples to the policy's invariants.")
@click.argument("policy_path", required=False, metavar="[POLICY]")
def test(as_json: bool, test_paths: tuple[str, ...], coverage: bool, min_coverage: str | None, verbose: bool,
         no_invariants: bool, policy_path: str | None) -> None:
    """Run a policy's test cases: each complaint's decision must match its expectations.

    Prints one line per failed expectation as file:line, then 'N passed, N failed', and when the
    policy declares invariants (each searched for a counterexample) '; N invariants kept, N broken'.
    Exit codes: 0 all passed, 1 a case failed, an invariant is broken or coverage is too low,
    4 broken policy or test file.

    \b
    Example:
      gesture test rules/default --coverage
      gesture test my-policy.yaml --tests my-tests/ --min-coverage 90
    """
    minimum = _percent(min_coverage)
    source = Path(policy_path) if policy_path is not None else default_policy_path()
    policy = load(_shown(source))
    files = [Path(_shown(p)) for p in (expand(test_paths) if test_paths else find_test_files(source))]
    if not files:
        where = ", ".join(test_paths) if test_paths else _shown(source / "tests" if source.is_dir() else source.with_name(source.stem + ".tests"))
        click.echo(f"gesture: no test files (*.yaml) found in {where}", err=True)
        sys.exit(EXIT_BAD_POLICY)
    try:
        suite = load_suite(policy, files)
    except PolicyTestError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        click.echo(f"gesture: test files have {len(error.problems)} problem(s)", err=True)
        sys.exit(EXIT_BAD_POLICY)
    result = run_suite(policy, suite, coverage=coverage or minimum is not None, invariants=not no_invariants)
    too_low = minimum is not None and result.coverage is not None and result.coverage.percent < minimum
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    else:
        _print(result, verbose, show_coverage=coverage)
    if too_low and result.coverage is not None:
        click.echo(f"gesture: coverage {result.coverage.percent}% is below --min-coverage {minimum}%", err=True)
    sys.exit(EXIT_OK if result.ok and not too_low else EXIT_FAILED)


def _print(result: SuiteResult, verbose: bool, show_coverage: bool) -> None:
    for case in result.cases:
        where = f"{case.file}:{case.line}: {case.name}"
        if case.error is not None:
            click.echo(f"{where}: {case.error}")
        for mismatch in case.mismatches:
            click.echo(f"{where}: {mismatch}")
        if case.passed and verbose:
            click.echo(f"{where}: ok")
    for invariant in result.invariants:
        if not invariant.passed:
            click.echo(f"{invariant.counterexample}")
        elif verbose:
            click.echo(f"{invariant.file}:{invariant.line}: invariant kept: {invariant.invariant}")
    report = result.coverage
    if report is not None:
        click.echo(report.summary())
        if show_coverage:
            for line in report.uncovered():
                click.echo(f"  not covered: {line}")
    click.echo(summary(result))


def summary(result: SuiteResult) -> str:
    """The last line: cases, then invariants when any were checked (kept apart, so 25 + 4 is not "29 passed")."""
    line = f"{result.passed} passed, {result.failed} failed"
    if result.invariants:
        noun = "invariant" if result.invariants_kept == 1 else "invariants"
        line += f"; {result.invariants_kept} {noun} kept, {result.invariants_broken} broken"
    return line

