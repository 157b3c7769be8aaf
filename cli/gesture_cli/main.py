"""``gesture``: ask a policy what to do for a complaint, and check policies.

Every command calls one library function and turns library errors into exit codes:
0 success, 1 a check found failures, 2 usage error, 3 invalid complaint, 4 invalid policy, 74 I/O error
(130 when a prompt for facts is interrupted).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gesture_engine import ComplaintError, PolicyError, __version__, load_policy
from gesture_engine.decision_log import DecisionLog
from gesture_engine.errors import listing
from gesture_engine.jsonschemas import SCHEMAS, schema_text

from . import prompting, render
from ._shared import (
    EXIT_BAD_POLICY,
    EXIT_OK,
    complaint_from_args,
    fail_complaint,
    fail_io,
    json_option,
    load,
    load_mapping_arg,
    load_with_text,
    policy_option,
)
from .batch_run import run_batch, run_ledger_batch
from .fact_options import FactCommand, after_dashes, complete_fact_args
from .files import OutputError, named_stdout, silence_stdout
from .ledger_cmd import ledger_group, opened


class GestureGroup(click.Group):
    """The ``gesture`` group: an I/O error anywhere (disk full, a device failing; a closed pipe aside,
    which click ends quietly) is reported in one line and exits 74, never as a traceback."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            with named_stdout():
                try:
                    return super().main(*args, **kwargs)
                finally:
                    sys.stdout.flush()  # what is still buffered fails here, while errors are still ours to report
        except BrokenPipeError:
            raise
        except OutputError as error:
            if error.name == "standard output":
                silence_stdout()
            fail_io(f"cannot write {error.name}", error)
        except OSError as error:
            fail_io("I/O error" + (f" on {error.filename}" if error.filename else ""), error)


@click.group(cls=GestureGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gesture")
def cli() -> None:
    """gesture-engine: what should we do for this unhappy customer?

    Policies are YAML rules over a complaint's severity, the customer's value and the channel's
    visibility. Exit codes: 0 ok, 1 check failed, 2 usage, 3 invalid complaint, 4 invalid policy,
    74 I/O error, 130 interrupted.
    """


@cli.command(cls=FactCommand, context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True})
@policy_option
@json_option
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help="Set a fact (repeatable).")
@click.option("--log", "log_path", metavar="PATH", help="Append the complaint and decision as one JSON line to PATH (audit log).")
@click.option("--batch", "batch_path", metavar="FILE", help="Decide every complaint in a .jsonl or .csv FILE ('-' = stdin) to JSON Lines.")
@click.option("--out", "out_path", metavar="FILE", help="With --batch: write decisions to FILE instead of stdout.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="With --batch: worker processes.")
@click.option("--format", "batch_format", type=click.Choice(["jsonl", "csv"]), help="With --batch: input format [default: by extension].")
@click.option("--ledger", "ledger_url", envvar="GESTURE_LEDGER", metavar="URL",
              help="Decide through a goodwill ledger and reserve the budget (sqlite:///path or postgresql://...) [env GESTURE_LEDGER].")
@click.option("--team", help="With a ledger: the team the reservation counts against.")
@click.option("--actor", help="With a ledger: who decides (recorded).")
@click.option("--redecide", is_flag=True, help="With a ledger: decide a complaint id again, releasing its open reservation.")
@click.option("--mapping", "mapping_name", metavar="NAME|PATH",
              help="Read a helpdesk payload through a mapping (zendesk, freshdesk, or a mapping file); see gesture mapping --help.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[COMPLAINT] [--FACT VALUE]...", shell_complete=complete_fact_args)
def decide(policy_path: str | None, as_json: bool, pairs: tuple[str, ...], log_path: str | None, batch_path: str | None,
           out_path: str | None, workers: int, batch_format: str | None, ledger_url: str | None, team: str | None, actor: str | None,
           redecide: bool, mapping_name: str | None, args: tuple[str, ...]) -> None:
    """Decide what to do for one complaint.

    Facts come as options named after the policy's facts (listed below), as --set key=value, or as
    a JSON COMPLAINT file ('-' reads stdin); options override the file. Each fact at most once;
    after '--' everything is the COMPLAINT file, never an option. Given no facts on a terminal, it
    offers to ask for the required ones.

    \b
    Example:
      gesture decide --severity high --channel social_media --audience 120000
      echo '{"severity": "low", "channel": "email"}' | gesture decide - --json --log decisions.jsonl
      gesture decide --batch complaints.jsonl --out decisions.jsonl --workers 2
      gesture decide --mapping zendesk ticket.json --json

    With --mapping the COMPLAINT (or each --batch line) is a helpdesk payload, turned into a complaint
    by the mapping; facts given as options still override it.

    With --batch, each input line gives one output line, in order: the decision JSON, or
    {"line": N, "error": "invalid_complaint", "problems": [...]} for a bad line. --out is
    replaced only when the batch is complete, and may not be the input.

    With --ledger (or GESTURE_LEDGER) the customer's goodwill and the policy's other history facts come
    from the ledger and the budget is reserved; the complaint needs --complaint-id and --customer-id;
    --json prints {"decision": ..., "reservation": ...}. With --batch too, each line is decided and
    reserved in order, one line {"decision": ..., "reservation": ...} each; a rerun of the same file
    returns the existing reservations. See gesture ledger --help.
    """
    policy, policy_text = load_with_text(policy_path)
    mapping = load_mapping_arg(mapping_name) if mapping_name is not None else None
    if ledger_url is None and (team or actor or redecide):
        raise click.UsageError("--team, --actor and --redecide go with --ledger")
    if batch_path is not None:
        if args or pairs or log_path:
            raise click.UsageError("--batch reads complaints from FILE; give no COMPLAINT, facts or --log with it")
        if ledger_url is not None:
            run_ledger_batch(policy, ledger_url, batch_path, out_path, workers, batch_format, mapping, team, actor, redecide)
        else:
            run_batch(policy, batch_path, out_path, workers, batch_format, policy_text, mapping)
        return
    if out_path is not None or workers != 1 or batch_format is not None:
        raise click.UsageError("--out, --workers and --format go with --batch")
    if not args and not pairs and not after_dashes() and mapping is None and prompting.interactive():
        pairs = prompting.ask_required_facts(policy)
    reservation = None
    try:
        complaint = complaint_from_args(policy, args, pairs, mapping)
        if ledger_url is None:
            decision = policy.decide(complaint)
        else:
            with opened(ledger_url, as_json) as ledger:
                decision, reservation = ledger.decide(policy, complaint, team=team, actor=actor, redecide=redecide)
    except ComplaintError as error:
        fail_complaint(error)
    if log_path is not None:
        try:
            log = DecisionLog(log_path)
        except OSError as error:
            raise click.UsageError(f"cannot write decision log {log_path!r}: {error.strerror or error}") from None
        try:
            with log:
                log.append(complaint, decision)
        except OSError as error:
            fail_io(f"cannot write decision log {log_path}", error)
    if reservation is not None:
        if as_json:
            click.echo(json.dumps({"decision": json.loads(decision.model_dump_json()), "reservation": reservation.to_dict()}, indent=2))
        else:
            render.decision(decision)
            render.reservation(decision, reservation, policy)
    elif as_json:
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
                for line in listing("", error.problems, len(error.problems), prefix="")[1:]:  # the first MAX_LISTED, then how many more
                    click.echo(line)
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


from .explain_cmd import explain  # noqa: E402
from .test_cmd import test  # noqa: E402

cli.add_command(explain)
cli.add_command(test)

from .diff_cmd import diff_command  # noqa: E402
from .lint_cmd import lint_command  # noqa: E402

cli.add_command(diff_command)
cli.add_command(lint_command)
cli.add_command(ledger_group)

from .mapping_cmd import mapping_group  # noqa: E402
from .serve_cmd import serve_command  # noqa: E402

cli.add_command(mapping_group)
cli.add_command(serve_command)

from .spark_cmd import spark_group  # noqa: E402

cli.add_command(spark_group)
