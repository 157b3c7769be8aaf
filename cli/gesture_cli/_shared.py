"""Pieces every command shares: exit codes, policy loading, error reporting, common options."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from gesture_engine import ComplaintError, FieldProblem, Policy, PolicyError, load_policy, loads_policy
from gesture_engine.complaint import parse_complaint_json
from gesture_engine.errors import listing
from gesture_engine.load.source import read_policy_text
from gesture_engine.mapping import Mapping, MappingError, load_mapping

from .fact_options import after_dashes, misspelt_option

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BAD_COMPLAINT = 3
EXIT_BAD_POLICY = 4
EXIT_IO = 74
"""An output could not be written: sysexits.h's EX_IOERR (the ledger's commands use 5-14 for its refusals)."""


def fail_policy(error: PolicyError) -> NoReturn:
    """Every problem (the first ``MAX_LISTED``, then how many more), and exit 4."""
    for line in listing("", error.problems, len(error.problems), prefix="")[1:]:
        click.echo(line, err=True)
    click.echo(f"gesture: policy has {len(error.problems)} problem(s)", err=True)
    sys.exit(EXIT_BAD_POLICY)


def fail_complaint(error: ComplaintError) -> NoReturn:
    """Every problem (the first ``MAX_LISTED``, then how many more), and exit 3."""
    for line in listing("", error.problems, error.count, prefix="complaint: ")[1:]:
        click.echo(line, err=True)
    click.echo(f"gesture: complaint has {error.count} problem(s)", err=True)
    sys.exit(EXIT_BAD_COMPLAINT)


def fail_io(what: str, error: OSError) -> NoReturn:
    """An input or output failed as it was read or written (disk full, I/O error): exit 74."""
    click.echo(f"gesture: {what}: {error.strerror or error}", err=True)
    sys.exit(EXIT_IO)


def load(path: str | None) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as error:
        fail_policy(error)


def load_with_text(path: str | None) -> tuple[Policy, str | None]:
    """The policy, and when it is one file the text it was loaded from: read once, within the size
    limit, so a policy given as a pipe (``-p <(cat policy.yaml)``) is never read twice, even by workers."""
    if path is None or not Path(path).exists() or Path(path).is_dir():
        return load(path), None
    try:
        text = read_policy_text(Path(path))
        return loads_policy(text, name=path), text
    except PolicyError as error:
        fail_policy(error)


policy_option = click.option(
    "--policy", "-p", "policy_path", metavar="PATH", help="Policy file or directory [default: the embedded default policy]."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a panel for people.")


def _add_fact(facts: dict[str, str], name: str, value: str, spelt: str) -> None:
    """Record a fact given on the command line, refusing one given twice (``--severity high
    --severity low``, or ``--customer-value`` and ``--set customer_value=``): like a key repeated in
    JSON, which value was meant cannot be known."""
    key = name.replace("-", "_")  # the fact it names (Policy.complaint_from_text)
    if key in facts:
        raise click.UsageError(f"fact {key} is given more than once (again as {spelt}); give each fact once")
    facts[key] = value


def split_fact_args(args: tuple[str, ...], positional: tuple[str, ...] = ()) -> tuple[str | None, dict[str, str]]:
    """Separate the optional COMPLAINT path from ``--fact value`` / ``--fact=value`` pairs; the
    ``positional`` arguments (those after ``--``) are never options."""
    source: str | None = None
    facts: dict[str, str] = {}
    tokens = list(args)
    arguments: list[str] = []
    while tokens:
        token = tokens.pop(0)
        if token.startswith("--") and len(token) > 2:
            name, eq, value = token[2:].partition("=")
            if not eq:
                if not tokens or (tokens[0].startswith("--") and len(tokens[0]) > 2):
                    raise click.UsageError(f"option --{name} needs a value")
                value = tokens.pop(0)
            _add_fact(facts, name, value, f"--{name}")
        else:
            arguments.append(token)
    for token in (*arguments, *positional):
        if source is not None:
            raise click.UsageError(f"unexpected argument {token!r}; give at most one COMPLAINT file")
        source = token
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


def fail_mapping(error: MappingError) -> NoReturn:
    for problem in error.problems:
        click.echo(str(problem), err=True)
    click.echo(f"gesture: mapping has {len(error.problems)} problem(s)", err=True)
    sys.exit(EXIT_BAD_POLICY)


def load_mapping_arg(name_or_path: str) -> Mapping:
    """A ``--mapping`` argument: a shipped mapping's name or a path; a bad mapping exits 4 like a bad policy."""
    try:
        return load_mapping(name_or_path)
    except MappingError as error:
        fail_mapping(error)


def complaint_from_args(policy: Policy, args: tuple[str, ...], pairs: tuple[str, ...], mapping: Mapping | None = None) -> Any:
    """The complaint of ``decide``/``explain``: a JSON file or stdin (a helpdesk payload turned into a complaint
    by ``mapping``, if given), overridden by ``--fact value`` and ``--set k=v``."""
    refuse_misspelt_options(policy, args)
    source, facts = split_fact_args(args, after_dashes())
    if mapping is not None and source is None:
        raise click.UsageError("--mapping reads a helpdesk payload: give its JSON file, or - for stdin")
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise click.UsageError(f"--set needs key=value, got {pair!r}")
        _add_fact(facts, name, value, f"--set {name}=")
    complaint: Any = read_complaint_source(source) if source is not None else {}
    if mapping is not None:
        complaint = mapping.apply(complaint)
    if facts:
        if not isinstance(complaint, dict):
            raise ComplaintError([FieldProblem("(complaint)", "expected a JSON object when facts are also given as options")])
        complaint = {**complaint, **policy.complaint_from_text(facts)}
    return complaint
