"""``gesture``: ask a policy what to do for a complaint, and check policies.

Every command calls one library function and turns library errors into exit codes:
0 success, 1 a check found failures, 2 usage error, 3 invalid complaint, 4 invalid policy.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from gesture_engine import ComplaintError, FieldProblem, Policy, PolicyError, __version__, load_policy
from gesture_engine.inputs import parse_complaint_json
from gesture_engine.jsonschemas import SCHEMAS, schema_text

from . import render
from ._shared import EXIT_BAD_POLICY, EXIT_OK, fail_complaint, json_option, load, policy_option


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gesture")
def cli() -> None:
    """gesture-engine: what should we do for this unhappy customer?

    Policies are YAML rules over a complaint's severity, the customer's value and the channel's
    visibility. Exit codes: 0 ok, 1 check failed, 2 usage, 3 invalid complaint, 4 invalid policy.
    """


def _split_fact_args(args: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
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


def _read_source(source: str) -> Any:
    if source == "-":
        return parse_complaint_json(sys.stdin.buffer.read(), "<stdin>")
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read complaint file {source!r}: {exc.strerror or exc}") from None
    return parse_complaint_json(data, source)


def _complaint(policy: Policy, args: tuple[str, ...], pairs: tuple[str, ...]) -> Any:
    source, facts = _split_fact_args(args)
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise click.UsageError(f"--set needs key=value, got {pair!r}")
        facts[name] = value
    complaint: Any = _read_source(source) if source is not None else {}
    if facts:
        if not isinstance(complaint, dict):
            raise ComplaintError([FieldProblem("(complaint)", "expected a JSON object when facts are also given as options")])
        complaint = {**complaint, **policy.complaint_from_text(facts)}
    return complaint


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True})
@policy_option
@json_option
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help="Set a fact (repeatable).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[COMPLAINT] [--FACT VALUE]...")
def decide(policy_path: str | None, as_json: bool, pairs: tuple[str, ...], args: tuple[str, ...]) -> None:
    """Decide what to do for one complaint.

    Facts come as options named after the policy's facts, as --set key=value, or as a JSON
    COMPLAINT file ('-' reads stdin); options override the file.

    \b
    Example:
      gesture decide --severity high --channel social_media --audience 120000
      echo '{"severity": "low", "channel": "email"}' | gesture decide - --json
    """
    policy = load(policy_path)
    try:
        complaint = _complaint(policy, args, pairs)
        decision = policy.decide(complaint)
    except ComplaintError as error:
        fail_complaint(error)
    if as_json:
        click.echo(decision.model_dump_json(indent=2))
    else:
        render.decision(decision)


@cli.command()
@json_option
@click.argument("paths", nargs=-1, required=True, metavar="POLICY...")
def validate(as_json: bool, paths: tuple[str, ...]) -> None:
    """Check policies and report every problem as file:line:col: path: message.

    \b
    Example:
      gesture validate rules/default my-policy.yaml
    """
    results: list[dict[str, Any]] = []
    failed = False
    for path in paths:
        try:
            policy = load_policy(path)
        except PolicyError as error:
            failed = True
            results.append({"path": path, "valid": False, "problems": [vars(p) for p in error.problems]})
            if not as_json:
                for problem in error.problems:
                    click.echo(str(problem))
            continue
        results.append({"path": path, "valid": True, "policy": policy.name, "version": policy.version,
                        "rules": len(policy.rules), "fingerprint": policy.fingerprint})
        if not as_json:
            click.echo(f"ok: {path} ({policy.name} {policy.version}, {len(policy.rules)} rules, {policy.fingerprint[:12]})")
    if as_json:
        click.echo(json.dumps(results, indent=2))
    elif failed:
        count = sum(len(r.get("problems", [])) for r in results)
        click.echo(f"{count} problem(s) found", err=True)
    sys.exit(EXIT_BAD_POLICY if failed else EXIT_OK)


@cli.command()
@policy_option
@click.argument("name", type=click.Choice(SCHEMAS))
def schema(policy_path: str | None, name: str) -> None:
    """Print a JSON Schema: the policy format, a complaint for a policy, or the decision.

    \b
    Example:
      gesture schema complaint --policy rules/default
    """
    policy = load(policy_path) if name == "complaint" else None
    click.echo(schema_text(name, policy), nl=False)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="gesture")
