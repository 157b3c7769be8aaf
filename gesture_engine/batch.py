"""Deciding many complaints: streaming JSON Lines or CSV in, decision JSON Lines out.

Input is read lazily and output is produced in input order, so memory stays constant however long
the stream. Each bad line becomes one error record in its place and the batch goes on. With
``workers > 1`` chunks of lines are decided in worker processes (each loads the policy once from
its source) with a bounded window of chunks in flight, so order and memory both hold.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import IO, Any, TypeVar

from .errors import ComplaintError, FieldProblem, PolicyError, Problem
from .inputs import parse_complaint_json
from .policy import Policy, load_policy


@dataclass(frozen=True)
class BadRow:
    """A CSV row that cannot be a complaint (more or fewer fields than the header)."""

    message: str


Payload = bytes | dict[str, str] | BadRow
"""One complaint as read: a JSON line (bytes), a CSV row (column -> text), or a row that is broken."""

CHUNK = 2000
"""Complaints per task sent to a worker: large enough to amortise the hand-over, small enough to stream."""
BLOCK_BYTES = 1 << 20
"""JSON Lines per task, in bytes: a worker gets one bytes object and splits it into lines itself, so
the parent never touches a line (about 7,000 complaints a block)."""


def read_records(stream: IO[bytes], fmt: str = "jsonl") -> Iterator[tuple[int, Payload]]:
    """``(line number, payload)`` for each complaint in ``stream``; blank JSONL lines are skipped."""
    if fmt == "csv":
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
        reader = csv.DictReader(text)
        for row in reader:
            if None in row:
                yield reader.line_num, BadRow(f"more fields than the {len(reader.fieldnames or [])} columns of the header")
            elif any(value is None for value in row.values()):
                yield reader.line_num, BadRow("fewer fields than the header")
            else:  # an empty cell leaves the fact out, so its default applies
                yield reader.line_num, {k.strip(): v.strip() for k, v in row.items() if v.strip()}
        return
    for number, line in enumerate(stream, 1):
        if line.strip():
            yield number, line


def error_record(line: int, error: ComplaintError) -> str:
    """The JSON line standing in for a complaint that could not be decided."""
    return json.dumps({"line": line, **error.to_dict()}, ensure_ascii=False)


def decide_payload(policy: Policy, line: int, payload: Payload) -> str:
    """One output line: the decision JSON, or an error record."""
    if isinstance(payload, BadRow):
        return error_record(line, ComplaintError([FieldProblem(f"line {line}", payload.message)]))
    try:
        csv_row = isinstance(payload, dict)
        complaint: Any = policy.complaint_from_text(payload) if csv_row else parse_complaint_json(payload, f"line {line}")  # type: ignore[arg-type]
        return policy.decide_json(complaint)
    except ComplaintError as error:
        return error_record(line, error)
    except UnicodeDecodeError:
        return error_record(line, ComplaintError([FieldProblem(f"line {line}", "is not valid UTF-8")]))


def decide_stream(policy: Policy, stream: IO[bytes], sink: IO[bytes], fmt: str = "jsonl", *, workers: int = 1,
                  progress: Callable[[int], object] | None = None) -> int:
    """Write a decision JSON line (or an error record) to ``sink`` for every complaint in ``stream``, in
    input order; returns how many. ``progress(n)`` is told as each ``n`` complaints are decided.

    JSON Lines go to workers as blocks of bytes (:func:`jsonl_blocks`); each worker writes its
    decisions to a file in memory-backed temporary storage and the parent copies that into ``sink``
    in the kernel, so the gigabytes of decisions never pass through a pipe or the parent's Python.
    CSV, whose rows may span lines, goes record by record.
    """
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(count)

    if fmt == "csv":
        for text in decide_blocks(policy, read_records(stream, fmt), workers=workers):
            sink.write(text.encode("utf-8"))
            advance(text.count("\n"))
        return done
    if workers <= 1:
        for first, block in jsonl_blocks(stream):
            count, out = _decide_jsonl_block(policy, first, block)
            sink.write(out)
            advance(count)
        return done
    with tempfile.TemporaryDirectory(prefix="gesture-batch-", dir=_SCRATCH if os.path.isdir(_SCRATCH) else None) as scratch:
        tasks = ((first, block, scratch) for first, block in jsonl_blocks(stream))
        for count, path in _in_order(policy, workers, _decide_jsonl_in_worker, tasks):
            advance(_copy_out(count, path, sink))
    return done


_T = TypeVar("_T")


def _in_order(policy: Policy, workers: int, work: Callable[..., _T], tasks: Iterable[tuple[Any, ...]]) -> Iterator[_T]:
    """``work(*task)`` for each task in worker processes that load ``policy`` once each, yielded in
    task order, with at most two tasks per worker in flight so memory stays bounded."""
    window: deque[Future[_T]] = deque()
    with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(policy.source, policy.fingerprint)) as pool:
        for task in tasks:
            window.append(pool.submit(work, *task))
            if len(window) >= 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


_SCRATCH = "/dev/shm"
"""Memory-backed storage for the workers' output files, where the system has it."""


def _copy_out(count: int, path: str, sink: IO[bytes]) -> int:
    """Append the file at ``path`` to ``sink`` (by ``sendfile`` when both are real files) and delete it."""
    with open(path, "rb") as source:
        size = os.fstat(source.fileno()).st_size
        try:
            target = sink.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):  # an in-memory sink, as in tests
            shutil.copyfileobj(source, sink)
        else:
            sink.flush()
            offset = 0
            while offset < size:
                offset += os.sendfile(target, source.fileno(), offset, size - offset)
    os.unlink(path)
    return count


def jsonl_blocks(stream: IO[bytes], size: int = BLOCK_BYTES) -> Iterator[tuple[int, bytes]]:
    """``(number of its first line, block)``: ``stream`` cut after a newline about every ``size`` bytes."""
    line, rest = 1, b""
    while True:
        data = stream.read(size)
        if not data:
            if rest:
                yield line, rest
            return
        data = rest + data if rest else data
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # no newline yet: a line longer than a block
            rest = data
            continue
        block, rest = data[:cut], data[cut:]
        yield line, block
        line += block.count(b"\n")


def _decide_jsonl_block(policy: Policy, first: int, block: bytes) -> tuple[int, bytes]:
    """How many complaints a block holds, and their decisions (or error records) as UTF-8 lines.
    Lines are split on ``\n`` only, as reading the file line by line does; blank lines are skipped."""
    out = [decide_payload(policy, number, raw) for number, raw in enumerate(block.split(b"\n"), first) if raw.strip()]
    return len(out), ("\n".join(out) + "\n").encode("utf-8") if out else b""


def _decide_jsonl_in_worker(first: int, block: bytes, scratch: str) -> tuple[int, str]:
    """Decide a block and write the decisions to a file in ``scratch``: (complaints, file path)."""
    assert _WORKER_POLICY is not None, "worker started without a policy"
    count, out = _decide_jsonl_block(_WORKER_POLICY, first, block)
    path = os.path.join(scratch, f"{first:012d}.jsonl")
    with open(path, "wb") as file:
        file.write(out)
    return count, path


def decide_records(policy: Policy, records: Iterable[tuple[int, Payload]], *, workers: int = 1) -> Iterator[str]:
    """Decision JSON lines for ``records``, in order; ``workers > 1`` spreads chunks over processes."""
    for block in decide_blocks(policy, records, workers=workers):
        yield from block[:-1].split("\n")  # not splitlines(): U+2028 may stand unescaped inside a JSON string


def decide_blocks(policy: Policy, records: Iterable[tuple[int, Payload]], *, workers: int = 1) -> Iterator[str]:
    """Like :func:`decide_records`, as newline-terminated blocks of lines: what a writer wants, and
    one string per chunk is far cheaper to pass back from a worker process than thousands."""
    if workers <= 1:
        for line, payload in records:
            yield decide_payload(policy, line, payload) + "\n"
        return
    yield from _in_order(policy, workers, _decide_chunk, ((chunk,) for chunk in _chunks(records, CHUNK)))


def _chunks(records: Iterable[tuple[int, Payload]], size: int) -> Iterator[list[tuple[int, Payload]]]:
    chunk: list[tuple[int, Payload]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_WORKER_POLICY: Policy | None = None


def _start_worker(source: str, fingerprint: str) -> None:
    """Load the policy once per worker process, and make sure it is the one the parent decided with."""
    global _WORKER_POLICY
    policy = load_policy(source)
    if policy.fingerprint != fingerprint:  # never decide with a different policy than the parent's
        raise PolicyError([Problem(source, 1, 1, "", "the policy changed on disk while the batch was starting", "changed")])
    _WORKER_POLICY = policy


def _decide_chunk(chunk: list[tuple[int, Payload]]) -> str:
    policy = _WORKER_POLICY
    assert policy is not None, "worker started without a policy"
    return "".join([decide_payload(policy, line, payload) + "\n" for line, payload in chunk])


def format_of(path: str | os.PathLike[str], explicit: str | None = None) -> str:
    """``csv`` for a ``.csv`` file (or when asked), else ``jsonl``."""
    if explicit:
        return explicit
    return "csv" if os.fspath(path).lower().endswith(".csv") else "jsonl"
