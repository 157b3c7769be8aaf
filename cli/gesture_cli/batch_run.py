"""``gesture decide --batch``: stream complaints through the library's batch path to JSON Lines."""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from typing import IO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gesture_engine import Policy
from gesture_engine.batch import decide_stream, format_of
from gesture_engine.mapping import Mapping, decide_payloads


def run_batch(policy: Policy, source: str, out: str | None, workers: int, fmt: str | None) -> None:
    """Decide every complaint in ``source`` ('-' = stdin) and write one JSON line each to ``out`` or stdout."""
    kind = format_of(source, fmt)
    with ExitStack() as stack:
        if source == "-":
            stream: IO[bytes] = sys.stdin.buffer
        else:
            try:
                stream = stack.enter_context(open(source, "rb"))
            except OSError as exc:
                raise click.UsageError(f"cannot read batch file {source!r}: {exc.strerror or exc}") from None
        try:
            sink: IO[bytes] = stack.enter_context(open(out, "wb")) if out else sys.stdout.buffer
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
            decide_stream(policy, stream, sink, kind, workers=workers, progress=tick)
            sink.flush()
        except UnicodeDecodeError as exc:  # CSV input is decoded as a whole stream
            raise click.UsageError(f"{source}: not valid UTF-8 near byte {exc.start}") from None
        except BrokenProcessPool:
            raise click.ClickException("a worker process stopped (out of memory, or the policy changed on disk); "
                                       "the output is incomplete") from None


def run_mapped_batch(policy: Policy, mapping: Mapping, source: str, out: str | None, workers: int, fmt: str | None) -> None:
    """``--batch`` with ``--mapping``: each JSON line is a helpdesk payload; one process (a mapping costs more than deciding)."""
    if format_of(source, fmt) != "jsonl":
        raise click.UsageError("--mapping reads helpdesk payloads as JSON Lines, not CSV")
    if workers != 1:
        raise click.UsageError("--batch with --mapping runs in one process; leave out --workers")
    with ExitStack() as stack:
        try:
            stream: IO[bytes] = sys.stdin.buffer if source == "-" else stack.enter_context(open(source, "rb"))
        except OSError as exc:
            raise click.UsageError(f"cannot read batch file {source!r}: {exc.strerror or exc}") from None
        try:
            sink: IO[bytes] = stack.enter_context(open(out, "wb")) if out else sys.stdout.buffer
        except OSError as exc:
            raise click.UsageError(f"cannot write {out!r}: {exc.strerror or exc}") from None
        decide_payloads(policy, mapping, stream, sink)
        sink.flush()
