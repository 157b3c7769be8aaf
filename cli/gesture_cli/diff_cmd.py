"""``gesture diff``: what changed between two policies, and what it does to real complaints."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import click

from gesture_engine import Policy, PolicyError
from gesture_engine.errors import ComplaintFileError
from gesture_engine.tools.diff import Replay, StructuralDiff, diff_policies, read_replay, replay
from gesture_engine.tools.revisions import RevisionError, load_spec

from ._shared import EXIT_BAD_POLICY, EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail_policy, json_option


def _load(spec: str) -> Policy:
    try:
        return load_spec(spec)
    except PolicyError as error:
        fail_policy(error)
    except RevisionError as error:
        click.echo(f"gesture: {error}", err=True)
        sys.exit(EXIT_BAD_POLICY)


def _signed(amount: Decimal) -> str:
    return f"+{amount}" if amount > 0 else str(amount)


def _show_structure(diff: StructuralDiff) -> None:
    for side, info in (("old", diff.old), ("new", diff.new)):
        click.echo(f"{side}: {info.spec}  ({info.name} {info.version}, {info.fingerprint[:12]})")
    if not diff.changed:
        click.echo("no structural change (same fingerprint)")
        return
    for change in diff.changes:
        head = f"{change.section} {change.id} {change.kind}"
        click.echo(head + (f": {change.detail}" if change.detail else ""))
        for f in change.fields:
            click.echo(f"  {f.field}: {f.old or '(none)'} -> {f.new or '(none)'}")
    click.echo(f"{len(diff.changes)} structural change(s)")


def _show_replay(source: str, result: Replay) -> None:
    logged = f" ({result.logged} from decision-log records)" if result.logged else ""
    click.echo(f"\nreplay of {source}: {result.complaints} complaint(s){logged}, {result.bad_lines} bad line(s) skipped")
    for bad in result.bad_samples:
        click.echo(f"  line {bad.line}: {bad.message}")
    if result.invalid_old or result.invalid_new:
        click.echo(f"  invalid under old: {result.invalid_old}, under new: {result.invalid_new}")
    share = f" ({100 * result.changed / result.complaints:.1f}%)" if result.complaints else ""
    fields = ", ".join(f"{name} {count}" for name, count in sorted(result.field_counts.items()))
    click.echo(f"decisions changed: {result.changed} of {result.complaints}{share}" + (f": {fields}" if fields else ""))
    rows = result.transition_rows()
    if rows:
        click.echo("transitions (old action -> new action):")
        width = max(len(f"{a} -> {b}") for a, b, _ in rows)
        for a, b, count in rows:
            click.echo(f"  {f'{a} -> {b}':<{width}}  {count}")
    currency = result.new_currency if result.old_currency == result.new_currency else f"{result.old_currency} -> {result.new_currency}"
    click.echo(f"budget over {result.decided_both} complaint(s) decided by both: {result.budget_old} -> {result.budget_new} "
               f"{currency} ({_signed(result.budget_delta)})")
    deltas = [row for row in result.action_deltas() if row[3] != 0]
    if deltas:
        click.echo("budget by action:")
        width = max(len(a) for a, *_ in deltas)
        for action, old, new, delta in deltas:
            click.echo(f"  {action:<{width}}  {old} -> {new} ({_signed(delta)})")
    if result.top:
        click.echo("largest changes:")
        width = max(len(c.label) for c in result.top)
        for c in result.top:
            budgets = f"{c.old_budget if c.old_budget is not None else '-'} -> {c.new_budget if c.new_budget is not None else '-'}"
            click.echo(f"  {c.label:<{width}}  {c.old_action} -> {c.new_action}  {budgets} ({_signed(c.delta)})  [{', '.join(c.fields)}]")


@click.command("diff")
@json_option
@click.option("--replay", "replay_path", type=click.Path(exists=True, dir_okay=False), metavar="COMPLAINTS",
              help="Decide every complaint of a .jsonl or .csv file under both policies and compare.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(0), help="How many of the largest changes to list.")
@click.option("--fail-on-change", is_flag=True, help="Exit 1 if any decision changed (without --replay: if the policy changed).")
@click.argument("old_spec", metavar="OLD")
@click.argument("new_spec", metavar="NEW")
def diff_command(as_json: bool, replay_path: str | None, top: int, fail_on_change: bool, old_spec: str, new_spec: str) -> None:
    """Compare two policies: paths, or git revisions written REV:path.

    Lists rules added, removed, moved and changed (which fields), and changes to facts, derived
    facts, gestures, actions and limits. With --replay, decides real complaints under both and
    reports the decisions that changed, action transitions and the budget delta. COMPLAINTS may
    also be a decision log (gesture decide --log): each record's complaint is replayed.

    \b
    Example:
      gesture diff main:rules/default rules/default
      gesture diff HEAD~1:rules/acme rules/acme --replay last-month.jsonl --fail-on-change
    """
    old, new = _load(old_spec), _load(new_spec)
    structure = diff_policies(old, new, old_spec, new_spec)
    result = None
    if replay_path is not None:
        try:
            result = replay(old, new, read_replay(replay_path), top=top)
        except OSError as exc:
            click.echo(f"gesture: cannot read {replay_path}: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_USAGE)
        except ComplaintFileError as error:
            click.echo(f"gesture: {replay_path}:{error.line}: {error.message}", err=True)
            sys.exit(EXIT_USAGE)
    if as_json:
        click.echo(json.dumps({**structure.to_dict(), "replay": None if result is None else result.to_dict()}, indent=2))
    else:
        _show_structure(structure)
        if result is not None and replay_path is not None:
            _show_replay(replay_path, result)
    changed = result.changed > 0 if result is not None else structure.changed
    sys.exit(EXIT_FAILED if fail_on_change and changed else EXIT_OK)
