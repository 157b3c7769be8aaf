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
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

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
    window: deque[Future[str]] = deque()
    with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(policy.source, policy.fingerprint)) as pool:
        for chunk in _chunks(records, CHUNK):
            window.append(pool.submit(_decide_chunk, chunk))
            if len(window) >= 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


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
