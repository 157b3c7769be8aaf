"""``gesture lint``: find dead rules, gaps and unused definitions in a policy."""

from __future__ import annotations

import json
import sys

import click

from gesture_engine import PolicyError
from gesture_engine.tools.lint import lint_path

from ._shared import EXIT_FAILED, EXIT_OK, fail_policy, json_option


@click.command("lint")
@json_option
@click.option("--strict", is_flag=True, help="Fail on warnings too, not only on errors.")
@click.argument("path", required=False, metavar="[POLICY]")
def lint_command(as_json: bool, strict: bool, path: str | None) -> None:
    """Find rules that never fire, gaps only the default answers, and unused definitions.

    The analysis is exact: each fact's domain is cut at every threshold the policy mentions and
    every combination is checked. Findings print as file:line: code: severity: message. Exit 1
    on an error (or a warning with --strict), 4 for an invalid policy.

    \b
    Example:
      gesture lint rules/default
      gesture lint my-policy --strict --json
    """
    try:
        report = lint_path(path)
    except PolicyError as error:
        fail_policy(error)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for finding in report.findings:
            click.echo(str(finding))
        click.echo(report.summary(), err=True)
    sys.exit(EXIT_FAILED if report.failed(strict) else EXIT_OK)
