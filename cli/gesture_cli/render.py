"""Panels for people. Machines get ``--json``; nothing here decides anything."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gesture_engine import Decision, Policy
from gesture_engine.durations import format_duration
from gesture_engine.load.compiler import HistorySource


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def decision(d: Decision) -> None:
    """Print one decision as a panel: action, gestures, budget, deadline, approval, reasons."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    if d.complaint_id or d.customer_id:
        ids = " ".join(x for x in (d.complaint_id and f"complaint {d.complaint_id}", d.customer_id and f"customer {d.customer_id}") if x)
        grid.add_row("Case", ids)
    grid.add_row("Action", Text.assemble((d.action_label, "bold green"), f"  ({d.action}, rule {d.rule})"))
    gestures = Text("\n".join(f"• {g.label}" + ("  [budget]" if g.monetary else "") for g in d.gestures))
    grid.add_row("Gestures", gestures)
    grid.add_row("Budget", Group(Text(f"{d.budget.amount} {d.budget.currency}", style="bold"), Text(d.budget.summary, style="dim")))
    if d.owed:
        grid.add_row("Owed", Group(*(Text.assemble((f"{o.amount} {o.currency}", "bold"), f"  {o.gesture}: {o.text}") for o in d.owed)))
    deadline = f"within {d.respond_within}"
    if d.respond_by is not None:
        deadline += f" (by {d.respond_by.isoformat()})"
    grid.add_row("Respond", deadline)
    grid.add_row("Approval", Group(Text(d.approval.level, style="bold"), *(Text(r, style="dim") for r in d.approval.reasons)))
    grid.add_row("Why", Text("\n".join(f"{i}. {reason}" for i, reason in enumerate(d.reasons, 1))))
    fired = [t.rule for t in d.trace if t.fired]
    grid.add_row("Rules fired", ", ".join(fired))
    title = f"[bold]What to do[/bold] · policy {d.policy.name} {d.policy.version}"
    _console().print(Panel(grid, title=title, title_align="left", expand=False))


def reservation(d: Decision, r: Any, policy: Policy) -> None:
    """The ledger's side of a decision: the reservation, what it waits for, the customer's goodwill in the
    window and the policy's other history facts (as the ledger filled them, before this decision)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    again = "  (decided before: the existing reservation)" if r.existing else ""
    grid.add_row("Reservation", Text.assemble((r.reservation_id, "bold"), f"  {r.state}, {r.reserved} {r.currency}{again}"))
    waits = f"approval by {r.approval_level} or above before issuing" if r.approval_required and not r.approvals else "none: may be issued"
    grid.add_row("Waits for", waits if r.open else "-")
    grid.add_row("Expires", r.expires_at.isoformat().replace("+00:00", "Z"))
    limits = policy.compiled.limits
    if limits.goodwill_fact is not None and limits.goodwill_fact in d.facts:
        before = d.facts[limits.goodwill_fact]
        window = f" in {limits.goodwill_window}" if limits.goodwill_window else ""
        grid.add_row("Customer", f"{before} {r.currency} given or reserved{window} before this; limit {limits.goodwill_limit} {r.currency}")
    lines = [_history_line(source, d.facts[name], r.currency) for name, source in policy.compiled.history.items()
             if name != limits.goodwill_fact and name in d.facts]
    if lines:
        grid.add_row("History", Text("\n".join(lines)))
    if r.team:
        grid.add_row("Team", r.team)
    _console().print(Panel(grid, title="[bold]Goodwill ledger[/bold]", title_align="left", expand=False))


def history_table(policy: Policy, facts: dict[str, Any], title: str) -> Table:
    """A policy's history facts for one customer, as ``gesture ledger show --policy`` lists them."""
    table = Table(title=title, title_justify="left")
    table.add_column("fact, value and what it counts")
    for name, source in policy.compiled.history.items():
        table.add_row(_history_line(source, facts[name], policy.currency))
    return table


def _history_line(source: HistorySource, value: object, currency: str) -> str:
    """One history fact as the panel shows it: ``credits_last_90d  2  (account_credit given in the last 90d)``."""
    window = format_duration(source.window)
    if source.kind == "goodwill":
        what = f"{value} {currency}  (given or reserved in the last {window})"
    elif source.kind == "gestures":
        what = f"{value}  ({', '.join(source.gestures)} given in the last {window})"
    else:
        what = f"{value}  (complaints decided in the last {window})"
    return f"{source.fact}  {what}"
