"""Pieces every command shares: exit codes, policy loading, error reporting, common options."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from gesture_engine import ComplaintError, Policy, PolicyError, load_policy

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BAD_COMPLAINT = 3
EXIT_BAD_POLICY = 4


def fail_policy(error: PolicyError) -> NoReturn:
    for problem in error.problems:
        click.echo(str(problem), err=True)
    click.echo(f"gesture: policy has {len(error.problems)} problem(s)", err=True)
    sys.exit(EXIT_BAD_POLICY)


def fail_complaint(error: ComplaintError) -> NoReturn:
    for problem in error.problems:
        click.echo(f"complaint: {problem}", err=True)
    click.echo(f"gesture: complaint has {len(error.problems)} problem(s)", err=True)
    sys.exit(EXIT_BAD_COMPLAINT)


def load(path: str | None) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as error:
        fail_policy(error)


policy_option = click.option(
    "--policy", "-p", "policy_path", metavar="PATH", help="Policy file or directory [default: the embedded default policy]."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a panel for people.")


