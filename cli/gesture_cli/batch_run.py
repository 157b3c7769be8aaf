"""``gesture decide --batch``: stream complaints through the library's batch path to JSON Lines."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from typing import IO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gesture_engine import Policy
from gesture_engine.batch import Payload, decide_blocks, format_of, read_records


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
            sink: IO[str] = stack.enter_context(open(out, "w", encoding="utf-8")) if out else sys.stdout
        except OSError as exc:
            raise click.UsageError(f"cannot write {out!r}: {exc.strerror or exc}") from None
        records = read_records(stream, kind)
        show = sys.stderr.isatty() and (out is not None or not sys.stdout.isatty())
        if show:
            progress = stack.enter_context(Progress(
                SpinnerColumn(), TextColumn("deciding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            ))
            task = progress.add_task("deciding", total=None)
            records = _counted(records, lambda: progress.advance(task))
        write = sink.write
        try:
            for block in decide_blocks(policy, records, workers=workers):
                write(block)
        except UnicodeDecodeError as exc:  # CSV input is decoded as a whole stream
            raise click.UsageError(f"{source}: not valid UTF-8 near byte {exc.start}") from None
        except BrokenProcessPool:
            raise click.ClickException("a worker process stopped (out of memory, or the policy changed on disk); "
                                       "the output is incomplete") from None


def _counted(records: Iterator[tuple[int, Payload]], tick: object) -> Iterator[tuple[int, Payload]]:
    for record in records:
        yield record
        tick()  # type: ignore[operator]
