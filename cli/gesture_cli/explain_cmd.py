"""``gesture explain``: why a complaint gets its decision, rule by rule. Rendering only; the
explanation itself comes from ``Policy.explain`` (gesture_engine/explain.py)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gesture_engine import ComplaintError
from gesture_engine.tools.explain import Explanation, show

from ._shared import complaint_from_args, fail_complaint, json_option, load, policy_option
from .fact_options import FactCommand, complete_fact_args

_MARK = {"fired": ("✓", "green"), "not_fired": ("✗", "red"), "not_evaluated": ("–", "dim")}


@click.command(cls=FactCommand, context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True})
@policy_option
@json_option
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help="Set a fact (repeatable).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[COMPLAINT] [--FACT VALUE]...", shell_complete=complete_fact_args)
def explain(policy_path: str | None, as_json: bool, pairs: tuple[str, ...], args: tuple[str, ...]) -> None:
    """Explain a decision: facts, derived facts, every rule and why it did or did not fire.

    Takes the same inputs as 'gesture decide'. For each rule that did not fire it shows the
    first condition that failed, with the actual value.

    \b
    Example:
      gesture explain --severity medium --channel email
      gesture explain complaint.json --json
    """
    policy = load(policy_path)
    try:
        why = policy.explain(complaint_from_args(policy, args, pairs))
    except ComplaintError as error:
        fail_complaint(error)
    if as_json:
        click.echo(why.model_dump_json(indent=2))
    else:
        render(why, Console(highlight=False, soft_wrap=False))


def render(why: Explanation, console: Console) -> None:
    """Print an explanation as sections that read top to bottom in evaluation order."""
    title = f"Why · policy {why.policy.name} {why.policy.version}"
    if why.complaint_id:
        title += f" · complaint {why.complaint_id}"
    console.print(Text(title, style="bold"))

    facts = _grid()
    for name, value in why.input_facts.items():
        facts.add_row(name, Text.assemble(show(value), (" (default)" if name in why.defaulted else "", "dim")))
    _section(console, "Input facts", facts)

    derived = _grid()
    for d in why.derived:
        how = "no row matched: default" if d.row is None else f"{d.source}: {d.rows[d.row].when}"
        derived.add_row(d.fact, Text.assemble((show(d.value), "bold"), (f"  ({how})", "dim")))
    _section(console, "Derived facts", derived)

    rules = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
    rules.add_column("", no_wrap=True)
    rules.add_column("rule", no_wrap=True)
    rules.add_column("kind", no_wrap=True)
    rules.add_column("result")
    for r in why.rules:
        mark, style = _MARK[r.status]
        note = f"fired: chooses {why.action}" if r.rule == why.rule else r.note
        rules.add_row(Text(mark, style=style), Text(r.rule, style="bold" if r.rule == why.rule else ""), r.hit, Text(note, style=style))
    _section(console, "Rules, in evaluation order", rules)

    chosen = _grid()
    chosen.add_row("action", Text.assemble((why.action_label, "bold green"), f"  ({why.action}, rule {why.rule})"))
    for add in why.add_ons:
        parts = [f"+ {', '.join(add.gestures)}" if add.gestures else "",
                 f"within {add.respond_within}" if add.respond_within else "",
                 f"approval ≥ {add.approval}" if add.approval else ""]
        chosen.add_row(f"add-on {add.rule}", "; ".join(p for p in parts if p) or "reason only")
    chosen.add_row("gestures", ", ".join(g.id for g in why.gestures))
    chosen.add_row("respond within", why.respond_within)
    _section(console, "Decision", chosen)

    budget = _grid()
    for step in why.budget_steps:
        budget.add_row(step.kind, Text.assemble(step.text, (f"  → {step.amount}", "dim")))
    budget.add_row("budget", Text(f"{why.budget.amount} {why.budget.currency}", style="bold"))
    for owed in why.owed:
        budget.add_row(f"owed: {owed.gesture}", Text.assemble(owed.text, (f"  → {owed.amount} {owed.currency}", "bold")))
    _section(console, "Budget", budget)

    approval = _grid()
    approval.add_row("level", Text(why.approval.level, style="bold"))
    for reason in why.approval.reasons:
        approval.add_row("", reason)
    _section(console, "Approval", approval)


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    return grid


def _section(console: Console, title: str, body: Table) -> None:
    console.print()
    console.print(Text(title, style="bold underline"))
    console.print(body)
