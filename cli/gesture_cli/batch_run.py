"""``gesture decide --batch``: stream complaints through the library's batch path to JSON Lines."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from typing import IO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gesture_engine import Policy
from gesture_engine.batch import decide_stream, format_of
from gesture_engine.errors import ComplaintFileError
from gesture_engine.mapping import Mapping

from ._shared import EXIT_USAGE
from .files import Output, atomic_output, same_file

EXIT_TERMINATED = 128 + signal.SIGTERM
"""What a shell reports for a process ended by SIGTERM."""


class Terminated(Exception):
    """SIGTERM arrived during a batch."""


Through = Callable[[IO[bytes], Output, str, Callable[[int], object] | None], int]
"""Decides a batch another way (through a ledger): ``(stream, sink, format, progress)`` -> how many."""


def run_batch(policy: Policy, source: str, out: str | None, workers: int, fmt: str | None, policy_text: str | None = None,
              mapping: Mapping | None = None, through: Through | None = None) -> None:
    """Decide every complaint in ``source`` ('-' = stdin) and write one JSON line each to ``out`` or stdout;
    with ``mapping`` each JSON line is a helpdesk payload it turns into the complaint.

    ``out`` is written atomically (see :func:`atomic_output`) and may not be the input; SIGTERM stops
    the batch like an error, leaving ``out`` as it was. ``through`` decides instead of the library's
    batch path (``--ledger``; it is given the mapping itself)."""
    kind = format_of(source, fmt)
    if mapping is not None and kind != "jsonl":
        raise click.UsageError("--mapping reads helpdesk payloads as JSON Lines, not CSV")
    with ExitStack() as stack:
        if source == "-":
            stream: IO[bytes] = sys.stdin.buffer
        else:
            try:
                stream = stack.enter_context(open(source, "rb"))
            except OSError as exc:
                raise click.UsageError(f"cannot read batch file {source!r}: {exc.strerror or exc}") from None
        if out is not None and same_file(stream, out):
            raise click.UsageError(f"--out {out!r} is the batch's input: writing it would destroy the complaints; choose another file")
        try:
            sink = Output(stack.enter_context(atomic_output(out)), out) if out else Output(sys.stdout.buffer, "standard output")
        except OSError as exc:
            raise click.UsageError(f"cannot write {out!r}: {exc.strerror or exc}") from None
        tick: Callable[[int], object] | None = None
        if sys.stderr.isatty() and (out is not None or not sys.stdout.isatty()):
            progress = stack.enter_context(Progress(
                SpinnerColumn(), TextColumn("deciding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            ))
            task = progress.add_task("deciding", total=None)
            tick = lambda count: progress.advance(task, count)
        try:
            with _terminate_as_exception():
                if through is None:
                    decide_stream(policy, stream, sink, kind, workers=workers, progress=tick, policy_text=policy_text, mapping=mapping)
                else:
                    through(stream, sink, kind, tick)
            sink.flush()
        except ComplaintFileError as error:
            click.echo(f"gesture: {'<stdin>' if source == '-' else source}:{error.line}: {error.message}", err=True)
            sys.exit(EXIT_USAGE)
        except BrokenProcessPool:
            raise click.ClickException("a worker process stopped (out of memory, or the policy changed on disk); "
                                       "the output is incomplete") from None
        except Terminated:
            click.echo("gesture: terminated" + (f"; {out} was left as it was" if out else ""), err=True)
            sys.exit(EXIT_TERMINATED)


@contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the batch runs, so that it unwinds like any error:
    workers stopped, the temporary output deleted. (SIGKILL cannot be caught; the workers notice
    their parent is gone and exit, and the temporary output is all that remains.)"""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may handle signals
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_ledger_batch(policy: Policy, url: str, source: str, out: str | None, workers: int, fmt: str | None, mapping: Mapping | None,
                     team: str | None, actor: str | None, redecide: bool) -> None:
    """``--batch`` with ``--ledger``: each row decided and reserved through the ledger, in order, in this process.

    ``--workers`` is refused: a row's history facts depend on the rows before it for the same customer,
    and the ledger takes one writer at a time on SQLite; a rerun is safe (idempotent by complaint id)."""
    from gesture_engine.ledger.batch import decide_through  # the ledger extra is imported only when a ledger is used

    from .ledger_cmd import opened

    if workers != 1:
        raise click.UsageError("--batch with --ledger decides row after row in one process (a customer's rows in order, "
                               "each seeing the ones before it); leave out --workers")
    if redecide:
        raise click.UsageError("--redecide decides one complaint again; it does not go with --batch")
    if mapping is not None and format_of(source, fmt) != "jsonl":
        raise click.UsageError("--mapping reads helpdesk payloads as JSON Lines, not CSV")
    with opened(url) as ledger:
        run_batch(policy, source, out, 1, fmt, through=lambda stream, sink, kind, tick: decide_through(
            ledger, policy, stream, sink, kind, team=team, actor=actor, mapping=mapping, progress=tick))
