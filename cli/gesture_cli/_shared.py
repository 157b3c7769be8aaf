"""Pieces every command shares: exit codes, policy loading, error reporting, common options."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from gesture_engine import ComplaintError, FieldProblem, Policy, PolicyError, load_policy
from gesture_engine.complaint import parse_complaint_json

from .fact_options import misspelt_option

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


def split_fact_args(args: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    """Separate the optional COMPLAINT path from ``--fact value`` / ``--fact=value`` pairs."""
    source: str | None = None
    facts: dict[str, str] = {}
    tokens = list(args)
    while tokens:
        token = tokens.pop(0)
        if token.startswith("--") and len(token) > 2:
            name, eq, value = token[2:].partition("=")
            if not eq:
                if not tokens or (tokens[0].startswith("--") and len(tokens[0]) > 2):
                    raise click.UsageError(f"option --{name} needs a value")
                value = tokens.pop(0)
            facts[name] = value
        elif source is None:
            source = token
        else:
            raise click.UsageError(f"unexpected argument {token!r}; give at most one COMPLAINT file")
    return source, facts


def read_complaint_source(source: str) -> Any:
    """Parse the COMPLAINT argument: a JSON file, or '-' for stdin."""
    if source == "-":
        return parse_complaint_json(sys.stdin.buffer.read(), "<stdin>")
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read complaint file {source!r}: {exc.strerror or exc}") from None
    return parse_complaint_json(data, source)


def refuse_misspelt_options(policy: Policy, args: tuple[str, ...]) -> None:
    """A usage error (exit 2) for an unknown ``--name`` that looks like a typo of the command's own
    options (``--jsn``: did you mean --json?). Other unknown names are read as facts, so the complaint
    reader reports them with the facts they resemble (exit 3)."""
    ctx = click.get_current_context()
    options = [o for p in ctx.command.get_params(ctx) for o in (*p.opts, *p.secondary_opts)]
    for token in args:
        if token.startswith("--") and len(token) > 2:
            name = token[2:].partition("=")[0]
            meant = misspelt_option(policy, name, options)
            if meant is not None:
                raise click.UsageError(f"no such option --{name} (did you mean {' or '.join(meant)}?)")


def complaint_from_args(policy: Policy, args: tuple[str, ...], pairs: tuple[str, ...]) -> Any:
    """The complaint of ``decide``/``explain``: a JSON file or stdin, overridden by ``--fact value`` and ``--set k=v``."""
    refuse_misspelt_options(policy, args)
    source, facts = split_fact_args(args)
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise click.UsageError(f"--set needs key=value, got {pair!r}")
        facts[name] = value
    complaint: Any = read_complaint_source(source) if source is not None else {}
    if facts:
        if not isinstance(complaint, dict):
            raise ComplaintError([FieldProblem("(complaint)", "expected a JSON object when facts are also given as options")])
        complaint = {**complaint, **policy.complaint_from_text(facts)}
    return complaint
