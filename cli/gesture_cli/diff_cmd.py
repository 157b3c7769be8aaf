"""``gesture diff``: what changed between two policies, and what it does to real complaints."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import click

from gesture_engine import Policy, PolicyError
from gesture_engine.batch import format_of
from gesture_engine.errors import ComplaintFileError
from gesture_engine.mapping import Mapping as HelpdeskMapping
from gesture_engine.mapping import MappingError
from gesture_engine.tools.diff import BREAKDOWN, Replay, StructuralDiff, diff_policies, mapped, read_replay, replay
from gesture_engine.tools.revisions import RevisionError, load_spec

from ._shared import EXIT_BAD_POLICY, EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail_mapping, fail_policy, json_option, load_mapping_arg


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
    _show_deltas("action", result.action_deltas())
    for name in result.by_fact_old:
        _show_deltas(name, result.fact_deltas(name))
    if result.top:
        click.echo("largest changes:")
        width = max(len(c.label) for c in result.top)
        for c in result.top:
            budgets = f"{c.old_budget if c.old_budget is not None else '-'} -> {c.new_budget if c.new_budget is not None else '-'}"
            click.echo(f"  {c.label:<{width}}  {c.old_action} -> {c.new_action}  {budgets} ({_signed(c.delta)})  [{', '.join(c.fields)}]")


def _show_deltas(by: str, rows: list[tuple[str, Decimal, Decimal, Decimal]]) -> None:
    """The budget by one breakdown, rows whose total moved only."""
    moved = [row for row in rows if row[3] != 0]
    if moved:
        click.echo(f"budget by {by}:")
        width = max(len(key) for key, *_ in moved)
        for key, old, new, delta in moved:
            click.echo(f"  {key:<{width}}  {old} -> {new} ({_signed(delta)})")


by_option = click.option("--by", "by", multiple=True, metavar="FACT",
                         help="Break the budget down by this fact (repeat for several) [default: tier and channel, where the policies have them].")
mapping_option = click.option("--mapping", "mapping_name", metavar="NAME|PATH",
                              help="Each JSON line is a helpdesk payload, turned into the complaint by this mapping (e.g. zendesk).")


def breakdown(by: tuple[str, ...], *policies: Policy) -> tuple[str, ...]:
    """The facts of ``--by`` (the default breakdown when none is given); one that no policy has is a usage error."""
    if not by:
        return BREAKDOWN
    known = {name for policy in policies for name in (*policy.facts, *(d.fact.name for d in policy.derived))}
    unknown = [name for name in by if name not in known]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: not a fact of either policy ({', '.join(sorted(known))})", param_hint="--by")
    return by


def check_mapping(name: str, *policies: Policy) -> HelpdeskMapping:
    """A ``--mapping`` for a replay: loaded, and checked against both policies (a bad one exits 4)."""
    mapping = load_mapping_arg(name)
    problems = [problem for policy in policies for problem in mapping.check(policy)]
    if problems:
        fail_mapping(MappingError(list(dict.fromkeys(problems))))
    return mapping


@click.command("diff")
@json_option
@click.option("--replay", "replay_path", type=click.Path(exists=True, dir_okay=False), metavar="COMPLAINTS",
              help="Decide every complaint of a .jsonl or .csv file under both policies and compare.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(0), help="How many of the largest changes to list.")
@click.option("--fail-on-change", is_flag=True, help="Exit 1 if any decision changed (without --replay: if the policy changed).")
@by_option
@mapping_option
@click.argument("old_spec", metavar="OLD")
@click.argument("new_spec", metavar="NEW")
def diff_command(as_json: bool, replay_path: str | None, top: int, fail_on_change: bool, by: tuple[str, ...], mapping_name: str | None,
                 old_spec: str, new_spec: str) -> None:
    """Compare two policies: paths, or git revisions written REV:path.

    Lists rules added, removed, moved and changed (which fields), and changes to facts, derived
    facts, gestures, actions and limits. With --replay, decides real complaints under both and
    reports the decisions that changed, action transitions and the budget delta, in total, by
    action and by tier and channel (or the facts named by --by). COMPLAINTS may also be a decision
    log (gesture decide --log): each record's complaint is replayed.

    \b
    Example:
      gesture diff main:rules/default rules/default
      gesture diff HEAD~1:rules/acme rules/acme --replay last-month.jsonl --fail-on-change
    """
    old, new = _load(old_spec), _load(new_spec)
    structure = diff_policies(old, new, old_spec, new_spec)
    facts = breakdown(by, old, new)
    result = None
    if replay_path is not None:
        records = read_replay(replay_path)
        if mapping_name is not None:
            if format_of(replay_path) == "csv":
                raise click.UsageError("--mapping reads helpdesk payloads as JSON Lines, not CSV")
            records = mapped(records, check_mapping(mapping_name, old, new))
        try:
            result = replay(old, new, records, top=top, by=facts)
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
