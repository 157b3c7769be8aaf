"""``gesture ledger ...``: approve, issue, release, show, spend, export, import, migrate, expire.

The ledger is named by ``--ledger URL`` or the ``GESTURE_LEDGER`` environment variable. Every refusal
exits with its own code (table in docs/ledger.md) after ``gesture: ledger: CODE: message`` on stderr.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from gesture_engine.errors import LedgerError

from ._shared import fail_io, json_option, load
from .files import atomic_output
from .render import history_table

EXIT_CODES = {
    "unknown_reservation": 5,
    "already_issued": 6,
    "exceeds_reservation": 7,
    "negative_amount": 8, "invalid_amount": 8,
    "currency_mismatch": 9,
    "approval_required": 10, "level_too_low": 10, "unknown_level": 10, "actor_required": 10,
    "reservation_closed": 11,
    "unreachable": 12, "unavailable": 12, "bad_url": 12,
    "schema_too_new": 13, "schema_outdated": 13,
}
"""Exit code of each LedgerError code; any other refusal (bad period, import, option, reused complaint id) exits 14."""
EXIT_LEDGER_OTHER = 14

ledger_option = click.option("--ledger", "url", envvar="GESTURE_LEDGER", metavar="URL", required=True,
                             help="The goodwill ledger: sqlite:///path/goodwill.db or postgresql://... [env GESTURE_LEDGER].")


def fail_ledger(error: LedgerError, as_json: bool = False) -> NoReturn:
    if as_json:
        click.echo(json.dumps(error.to_dict()))
    where = f" (line {error.line})" if error.line is not None else ""
    click.echo(f"gesture: ledger: {error.code}{where}: {error.message}", err=True)
    sys.exit(EXIT_CODES.get(error.code, EXIT_LEDGER_OTHER))


@contextmanager
def opened(url: str, as_json: bool = False, **options: Any) -> Iterator[Any]:
    """The ledger at ``url``, with every LedgerError turned into its exit code."""
    from gesture_engine.ledger import Ledger  # the ledger extra is imported only when a ledger is used

    try:
        with Ledger.open(url, **options) as ledger:
            yield ledger
    except LedgerError as error:
        fail_ledger(error, as_json)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _print_reservation(reservation: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(reservation.to_dict(), indent=2))
        return
    r = reservation
    issued = f", issued {r.issued}" if r.issued is not None else ""
    approvals = "; approved by " + ", ".join(f"{actor} ({level})" for actor, level in r.approvals) if r.approvals else ""
    click.echo(f"{r.reservation_id}: {r.state}, reserved {r.reserved} {r.currency}{issued}, holds {r.held} {r.currency} "
               f"(customer {r.customer_id}, complaint {r.complaint_id}; approval {r.approval_level}"
               f"{' required' if r.approval_required else ''}{approvals})")


@click.group("ledger")
def ledger_group() -> None:
    """The goodwill ledger: what was reserved, approved, issued, released and expired, per customer.

    \b
    Example:
      export GESTURE_LEDGER=sqlite:///goodwill.db
      gesture decide --severity high --channel email --complaint-id T-1 --customer-id C-9
      gesture ledger approve RESERVATION --actor mia --level manager
      gesture ledger issue RESERVATION --amount 120.00
      gesture ledger show C-9
    """


@ledger_group.command()
@ledger_option
@json_option
@click.argument("reservation_id")
@click.option("--actor", required=True, help="Who approves.")
@click.option("--level", required=True, help="The approval level they approve at (e.g. manager).")
def approve(url: str, as_json: bool, reservation_id: str, actor: str, level: str) -> None:
    """Record an approval of a reservation by ACTOR at LEVEL (at least the level it needs)."""
    with opened(url, as_json) as ledger:
        _print_reservation(ledger.approve(reservation_id, actor, level), as_json)


@ledger_group.command()
@ledger_option
@json_option
@click.argument("reservation_id")
@click.option("--amount", help="What was given [default: all reserved].")
@click.option("--currency", help="The amount's currency (refused unless it is the reservation's).")
@click.option("--actor", help="Who issued it.")
def issue(url: str, as_json: bool, reservation_id: str, amount: str | None, currency: str | None, actor: str | None) -> None:
    """Record that goodwill was given: at most what the reservation holds, once, after any approval it needs."""
    with opened(url, as_json) as ledger:
        _print_reservation(ledger.issue(reservation_id, amount, currency=currency, actor=actor), as_json)


@ledger_group.command()
@ledger_option
@json_option
@click.argument("reservation_id")
@click.option("--actor", help="Who released it.")
def release(url: str, as_json: bool, reservation_id: str, actor: str | None) -> None:
    """Give a reservation's budget back: nothing was given."""
    with opened(url, as_json) as ledger:
        _print_reservation(ledger.release(reservation_id, actor=actor), as_json)


@ledger_group.command()
@ledger_option
@json_option
@click.option("--policy", "-p", "policy_path", metavar="PATH",
              help="Also show the history facts this policy would be given for the customer now (e.g. credits in 90 days).")
@click.argument("customer_id")
def show(url: str, as_json: bool, policy_path: str | None, customer_id: str) -> None:
    """A customer's reservations, oldest first (and, with --policy, the policy's history facts).

    --json prints the reservations as a list; with --policy, an object of the policy's name, the
    history facts and the reservations."""
    policy = None if policy_path is None else load(policy_path)
    with opened(url, as_json) as ledger:
        asked = None if policy is None else (policy, ledger.history_facts(policy, customer_id))  # the policy and its history facts
        history = ledger.history(customer_id)
    if as_json:
        reservations = [r.to_dict() for r in history]
        if asked is None:
            click.echo(json.dumps(reservations, indent=2))
        else:
            named, values = asked
            click.echo(json.dumps({"customer_id": customer_id, "policy": named.name,
                                   "history": {name: str(value) if isinstance(value, Decimal) else value for name, value in values.items()},
                                   "reservations": reservations}, indent=2))
        return
    if asked is not None:
        _console().print(history_table(*asked, f"History facts of customer {customer_id} (policy {asked[0].name})"))
    table = Table(title=f"Goodwill of customer {customer_id}", title_justify="left")
    for column in ("reserved at", "reservation", "complaint", "team", "state", "reserved", "issued", "holds", "approval"):
        table.add_column(column, justify="right" if column in ("reserved", "issued", "holds") else "left")
    for r in history:
        approval = r.approval_level + (" ✓" if r.approvals else " needed" if r.approval_required and r.open else "")
        table.add_row(r.created_at.strftime("%Y-%m-%d %H:%M"), r.reservation_id, r.complaint_id, r.team, r.state,
                      f"{r.reserved} {r.currency}", "" if r.issued is None else str(r.issued), str(r.held), approval)
    _console().print(table)


@ledger_group.command()
@ledger_option
@json_option
@click.option("--team", help="One team [default: every team].")
@click.option("--period", metavar="YYYY-MM", help="A calendar month [default: this month].")
@click.option("--tz", default="UTC", show_default=True, help="The time zone months are counted in.")
def spend(url: str, as_json: bool, team: str | None, period: str | None, tz: str) -> None:
    """Goodwill held per team for reservations made in a calendar month."""
    with opened(url, as_json, tz=tz) as ledger:
        rows = ledger.spend(team, period)
        month = period or ledger.month(None)[0].astimezone(ledger.tz).strftime("%Y-%m")
    if as_json:
        click.echo(json.dumps({"period": month, "spend": [{"team": t, "currency": c, "amount": str(a)} for t, c, a in rows]}, indent=2))
        return
    table = Table(title=f"Spend in {month}", title_justify="left")
    table.add_column("team")
    table.add_column("amount", justify="right")
    for name, currency, amount in rows:
        table.add_row(name or "(no team)", f"{amount} {currency}")
    _console().print(table)


@ledger_group.command("export")
@ledger_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--out", "out_path", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option("--customer", help="Only this customer's events.")
def export_command(url: str, fmt: str, out_path: str | None, customer: str | None) -> None:
    """Every event, in the order written, as JSON Lines or CSV."""
    from gesture_engine.ledger.transfer import export_events

    with opened(url) as ledger:
        if out_path is None:
            count = export_events(ledger.events(customer), sys.stdout, fmt)
        else:
            with ExitStack() as stack:
                try:
                    binary = stack.enter_context(atomic_output(out_path))  # replaced only once the export is complete
                except OSError as error:
                    raise click.UsageError(f"cannot write {out_path!r}: {error.strerror or error}") from None
                try:
                    with io.TextIOWrapper(binary, encoding="utf-8", newline="") as out:
                        count = export_events(ledger.events(customer), out, fmt)
                except OSError as error:
                    fail_io(f"cannot write {out_path}", error)
    click.echo(f"{count} events", err=True)


@ledger_group.command("import")
@ledger_option
@json_option
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def import_command(url: str, as_json: bool, path: Path) -> None:
    """Record past goodwill from a CSV: customer_id,amount,currency,at[,complaint_id,team,gestures,note]; all or nothing."""
    from gesture_engine.ledger.transfer import read_import

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise click.UsageError(f"cannot read {str(path)!r}: {getattr(error, 'strerror', None) or error}") from None
    with opened(url, as_json) as ledger:
        try:
            count = ledger.import_rows(read_import(text))
        except LedgerError as error:
            fail_ledger(error, as_json)
    click.echo(json.dumps({"imported": count}) if as_json else f"imported {count} rows")


@ledger_group.command()
@ledger_option
def migrate(url: str) -> None:
    """Create the ledger's tables, or bring an older ledger to this version's schema."""
    from gesture_engine.ledger import Ledger

    try:
        version = Ledger.migrate(url)
    except LedgerError as error:
        fail_ledger(error)
    click.echo(f"ledger at schema version {version}")


@ledger_group.command()
@ledger_option
def expire(url: str) -> None:
    """Write an expired event for every open reservation past its expiry (reading does this lazily too)."""
    with opened(url) as ledger:
        click.echo(f"expired {ledger.expire()} reservations")
