"""Deciding many complaints: streaming JSON Lines or CSV in, decision JSON Lines out.

Input is read lazily and output is produced in input order, so memory stays constant however long
the stream. Each bad line becomes one error record in its place and the batch goes on. With
``workers > 1`` chunks of lines are decided in worker processes with a bounded window of chunks in
flight, so order and memory both hold. Workers are forked with the parent's policy (and helpdesk
mapping, if any) when they can be, else load it from the text it was read from (``policy_text``) or its
source, and check its fingerprint (a mapping travels as its text); they exit as soon as the parent is
gone, even when it is killed, and the memory they share with it has no name on any file system, so
nothing of a batch outlives it.
"""

from __future__ import annotations

import errno
import json
import mmap
import multiprocessing
import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.reduction import DupFd
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar

from gesture_engine.complaint import parse_complaint_json
from gesture_engine.csv_records import BadRow, csv_complaints
from gesture_engine.errors import ComplaintError, FieldProblem, PolicyError, Problem
from gesture_engine.policy import Policy, load_policy, loads_policy

if TYPE_CHECKING:
    from gesture_engine.mapping import Mapping

__all__ = ["BadRow", "Payload", "Sink", "decide_blocks", "decide_payload", "decide_records", "decide_stream", "error_record", "format_of",
           "jsonl_blocks", "read_records"]

Payload = bytes | dict[str, str] | BadRow


class Sink(Protocol):
    """Where decisions go: a binary file, or anything with its ``write``."""

    def write(self, data: bytes | memoryview, /) -> object: ...
"""One complaint as read: a JSON line (bytes), a CSV row (column -> text), or a row that is broken."""

CHUNK = 2000
"""Complaints per task sent to a worker: large enough to amortise the hand-over, small enough to stream."""
BLOCK_BYTES = 1 << 19
"""JSON Lines per task, in bytes: a worker gets a block whole and splits it into lines itself, so the
parent never touches a line (about 3,500 complaints a block)."""
GROUP = 32
"""Decision lines joined per write: small enough that no buffer of a whole block is ever made (each
fresh multi-megabyte buffer is paid for again in page faults: most of the system time batches spent)."""
SLOT_BYTES = 16 << 20
"""Room for one block's decisions in the memory shared with the workers (a block's decisions take
about 12 to 25 times its size; what does not fit comes back with the task's result)."""


@dataclass(frozen=True)
class _Layout:
    """Where a slot's input block and its decisions lie in the shared memory: each slot holds up to
    ``block`` bytes of input (a block too big for that is sent in the task instead), then ``out`` bytes
    of decisions. Handing a block over in memory rather than through the pool's pipe keeps a worker
    from waiting for it in 64 KiB pieces, each sent when the parent's feeder thread gets the GIL."""

    block: int
    out: int

    def input(self, slot: int) -> int:
        return slot * (self.block + self.out)

    def output(self, slot: int) -> int:
        return slot * (self.block + self.out) + self.block


def read_records(stream: IO[bytes], fmt: str = "jsonl") -> Iterator[tuple[int, Payload]]:
    """``(line number, payload)`` for each complaint in ``stream``; blank JSONL lines are skipped. A CSV
    record is numbered by the line it starts on (see :mod:`gesture_engine.csv_records`, which raises
    ``ComplaintFileError`` for a header it cannot trust)."""
    if fmt == "csv":
        yield from csv_complaints(stream)
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
        return error_record(line, ComplaintError([FieldProblem(f"line {line}", payload.message, None, payload.code)]))
    try:
        csv_row = isinstance(payload, dict)
        complaint: Any = policy.complaint_from_text(payload) if csv_row else parse_complaint_json(payload, f"line {line}")  # type: ignore[arg-type]
        return policy.decide_json(complaint)
    except ComplaintError as error:
        return error_record(line, error)
    except UnicodeDecodeError:
        return error_record(line, ComplaintError([FieldProblem(f"line {line}", "is not valid UTF-8")]))


def decide_stream(policy: Policy, stream: IO[bytes], sink: Sink, fmt: str = "jsonl", *, workers: int = 1,
                  progress: Callable[[int], object] | None = None, policy_text: str | None = None, mapping: Mapping | None = None) -> int:
    """Write a decision JSON line (or an error record) to ``sink`` for every complaint in ``stream``, in
    input order; returns how many. ``progress(n)`` is told as each ``n`` complaints are decided.
    ``policy_text``: the YAML text ``policy`` was loaded from, for workers that cannot be forked with
    it (see :func:`decide_blocks`). ``mapping``: each JSON line is a helpdesk payload, turned into a complaint
    by it (JSON Lines only); a payload that does not fit gets an error record like a bad complaint.

    JSON Lines go to workers as blocks of bytes (:func:`jsonl_blocks`); each worker writes its
    decisions into a slot of memory shared with the parent, which writes the slot to ``sink`` in one
    call, so the gigabytes of decisions are copied once into ``sink`` and never pass through a pipe.
    CSV, whose records may span lines, goes record by record.
    """
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(count)

    if fmt == "csv":
        if mapping is not None:
            raise ValueError("a mapping reads helpdesk payloads as JSON Lines, not CSV")
        for text in decide_blocks(policy, read_records(stream, fmt), workers=workers, policy_text=policy_text):
            sink.write(text.encode("utf-8"))
            advance(text.count("\n"))
        return done
    if workers <= 1:
        for first, block in jsonl_blocks(stream):
            count = 0
            for decided, data in _decide_jsonl_block(policy, first, block, mapping):
                sink.write(data)
                count += decided
            advance(count)
        return done
    _decide_jsonl_in_workers(policy, stream, sink, workers, advance, policy_text, mapping)
    return done


def _decide_jsonl_in_workers(policy: Policy, stream: IO[bytes], sink: Sink, workers: int, advance: Callable[[int], None],
                             policy_text: str | None, mapping: Mapping | None) -> None:
    """JSON Lines decided by ``workers`` processes a block at a time, each block through a slot of the
    shared memory, written to ``sink`` in input order. Block ``k`` takes slot ``k % slots``: with as
    many slots as :func:`_in_order` has tasks in flight, that slot is free again by then."""
    slots, layout = 2 * workers, _Layout(2 * BLOCK_BYTES, SLOT_BYTES)  # a block is at most twice what is read at once
    with _shared_slots(slots * (layout.block + layout.out)) as (fd, shared):

        def tasks() -> Iterator[tuple[int, bytes | int, int]]:
            for k, (first, block) in enumerate(jsonl_blocks(stream)):
                slot = k % slots
                if len(block) > layout.block:  # too big for the slot: sent in the task
                    yield first, block, slot
                    continue
                shared[layout.input(slot):layout.input(slot) + len(block)] = block
                yield first, len(block), slot

        decided = _in_order(policy, policy_text, workers, _decide_jsonl_in_worker, tasks(), _SharedFd(fd), layout, mapping=mapping)
        for k, (count, size, rest) in enumerate(decided):
            start = layout.output(k % slots)
            with shared[start:start + size] as data:
                sink.write(data)
            if rest:
                sink.write(rest)
            advance(count)


_T = TypeVar("_T")


def _in_order(policy: Policy, policy_text: str | None, workers: int, work: Callable[..., _T], tasks: Iterable[tuple[Any, ...]],
              *shared: Any, mapping: Mapping | None = None) -> Iterator[_T]:
    """``work(*task)`` for each task in worker processes that have ``policy`` and ``mapping`` (and are given
    ``shared``, see :func:`_start_worker`), yielded in task order, with at most ``2 * workers`` tasks in flight so
    memory stays bounded. Task ``k`` is taken from ``tasks`` only once the result of task
    ``k - 2 * workers`` has been yielded and handled, so per-task resources can be reused in turn.
    When anything fails (or the caller stops early) tasks not started are cancelled."""
    window: deque[Future[_T]] = deque()
    recipe = (policy.fingerprint, policy.source, policy_text, None if mapping is None else (mapping.file, mapping.text))
    with _inheritable(policy, mapping), ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(recipe, *shared)) as pool:
        try:
            for task in tasks:
                window.append(pool.submit(work, *task))
                if len(window) >= 2 * workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


Recipe = tuple[str, str, str | None, tuple[str, str] | None]
"""What a worker needs to find or load what the batch decides with: the policy's fingerprint, source and
text (or None), and the mapping's file and text (or None for no mapping)."""
_INHERITED: dict[str, Policy] = {}
"""The policies of the batches running in this process, by fingerprint: a worker forked from it finds
its policy here, with nothing to read or compile (and a policy read from a pipe could not be read again)."""
_INHERITED_MAPPINGS: dict[tuple[str, str], Mapping] = {}
"""The same for mappings, by file and text."""


@contextmanager
def _inheritable(policy: Policy, mapping: Mapping | None = None) -> Iterator[None]:
    _INHERITED[policy.fingerprint] = policy
    if mapping is not None:
        _INHERITED_MAPPINGS[mapping.file, mapping.text] = mapping
    try:
        yield
    finally:
        _INHERITED.pop(policy.fingerprint, None)
        if mapping is not None:
            _INHERITED_MAPPINGS.pop((mapping.file, mapping.text), None)


class _SharedFd:
    """A file descriptor for worker processes however they start: inherited when they are forked,
    passed by multiprocessing (as it passes its own pipes, ``DupFd``) when they are spawned."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Callable[[Any], _SharedFd], tuple[Any]]:
        return _received_fd, (DupFd(self.fd),)


def _received_fd(duplicate: Any) -> _SharedFd:
    return _SharedFd(duplicate.detach())


_SCRATCH = "/dev/shm"
"""Memory-backed storage for the shared slots where the system has no ``memfd_create``."""
_MEMFD: Callable[..., int] | None = getattr(os, "memfd_create", None)


@contextmanager
def _shared_slots(size: int) -> Iterator[tuple[int, memoryview]]:
    """A file of ``size`` bytes that no path names, and its mapping into memory; workers map it by its
    descriptor (:class:`_SharedFd`), so however a batch ends, even killed, nothing is left behind.
    Memory-backed (``memfd_create``, else a file in ``/dev/shm`` unlinked at once) when it can be, else
    in the temporary directory. Its space is reserved up front: a write to an unbacked page of a full
    memory file system would kill the worker, not raise."""
    fd = _unnamed_file(size)
    try:
        with mmap.mmap(fd, size) as mapped, memoryview(mapped) as view:
            yield fd, view
    finally:
        os.close(fd)


def _unnamed_file(size: int) -> int:
    """A descriptor of a new file of ``size`` reserved bytes with no name, in the first place that can hold it."""
    places: list[str | None] = [*(["memfd"] if _MEMFD is not None else []), *([_SCRATCH] if os.path.isdir(_SCRATCH) else []), None]
    for place in places:
        try:
            if place == "memfd" and _MEMFD is not None:
                fd = _MEMFD("gesture-batch")
            else:
                fd, path = tempfile.mkstemp(prefix="gesture-batch-", dir=place)
                os.unlink(path)
        except OSError:
            if place is places[-1]:
                raise
            continue
        try:
            _reserve(fd, size)
        except OSError:
            os.close(fd)
            if place is places[-1]:
                raise
            continue
        return fd
    raise AssertionError("unreachable: the last place raises")


def _reserve(fd: int, size: int) -> None:
    """Give the file at ``fd`` ``size`` bytes, allocated now where the system can."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
            raise
        os.ftruncate(fd, size)  # a file system that cannot reserve: sparse
    except AttributeError:  # no posix_fallocate on this system
        os.ftruncate(fd, size)


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


def _decide_jsonl_block(policy: Policy, first: int, block: bytes, mapping: Mapping | None = None) -> Iterator[tuple[int, bytes]]:
    """``(complaints, their decisions or error records as UTF-8 lines)`` for every ``GROUP`` lines of a
    block. Lines are split on ``\n`` only, as reading the file line by line does; blank lines are
    skipped. With ``mapping`` each line is a helpdesk payload it turns into the complaint."""
    decide = policy.decide_json_bytes if mapping is None else lambda payload: policy.decide_json_bytes(mapping.apply(payload))
    lines = block.split(b"\n")
    for start in range(0, len(lines), GROUP):
        out: list[bytes] = []
        count = 0
        for number, raw in enumerate(lines[start:start + GROUP], first + start):
            if not raw.strip():
                continue
            try:
                out += (decide(parse_complaint_json(raw, f"line {number}")), b"\n")
            except ComplaintError as error:
                out.append(error_record(number, error).encode() + b"\n")
            count += 1
        if count:
            yield count, b"".join(out)


def _decide_jsonl_in_worker(first: int, block: bytes | int, slot: int) -> tuple[int, int, bytes]:
    """Decide a block (given, or the length of the one the parent put in the slot) into its slot of the
    shared memory: ``(complaints, bytes in the slot, what did not fit)``; only a block whose decisions
    overflow the slot (rare: they take 12 to 25 times its size) sends any back through the pool's pipe."""
    assert _WORKER_POLICY is not None and _WORKER_SLOTS is not None, "worker started without a policy"
    shared, layout = _WORKER_SLOTS
    if isinstance(block, int):
        block = shared[layout.input(slot):layout.input(slot) + block]
    position = start = layout.output(slot)
    end = start + layout.out
    count, rest = 0, list[bytes]()
    for decided, data in _decide_jsonl_block(_WORKER_POLICY, first, block, _WORKER_MAPPING):
        count += decided
        if not rest and position + len(data) <= end:
            shared[position:position + len(data)] = data
            position += len(data)
            continue
        rest.append(data)
    return count, position - start, b"".join(rest)


def decide_records(policy: Policy, records: Iterable[tuple[int, Payload]], *, workers: int = 1, policy_text: str | None = None) -> Iterator[str]:
    """Decision JSON lines for ``records``, in order; ``workers > 1`` spreads chunks over processes."""
    for block in decide_blocks(policy, records, workers=workers, policy_text=policy_text):
        yield from block[:-1].split("\n")  # not splitlines(): U+2028 may stand unescaped inside a JSON string


def decide_blocks(policy: Policy, records: Iterable[tuple[int, Payload]], *, workers: int = 1, policy_text: str | None = None) -> Iterator[str]:
    """Like :func:`decide_records`, as newline-terminated blocks of lines: what a writer wants, and
    one string per chunk is far cheaper to pass back from a worker process than thousands.

    Workers forked from this process use ``policy`` itself; workers started afresh (the ``spawn`` and
    ``forkserver`` start methods) load ``policy_text``, the YAML text the policy was loaded from, when
    given, else ``policy.source`` again, and refuse to decide if the fingerprint differs."""
    if workers <= 1:
        for line, payload in records:
            yield decide_payload(policy, line, payload) + "\n"
        return
    yield from _in_order(policy, policy_text, workers, _decide_chunk, ((chunk,) for chunk in _chunks(records, CHUNK)))


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
_WORKER_MAPPING: Mapping | None = None
_WORKER_SLOTS: tuple[mmap.mmap, _Layout] | None = None


def _start_worker(recipe: Recipe, slots: _SharedFd | None = None, layout: _Layout | None = None) -> None:
    """Set a worker process up: watch the parent, get the policy and mapping (see :data:`Recipe`), make
    sure the policy is the one the parent decides with, and map the shared slots, if any."""
    global _WORKER_POLICY, _WORKER_MAPPING, _WORKER_SLOTS
    _watch_parent()
    fingerprint, source, text, mapping = recipe
    policy = _INHERITED.get(fingerprint)
    if policy is None:
        policy = load_policy(source) if text is None else loads_policy(text, name=source)
    if policy.fingerprint != fingerprint:  # never decide with a different policy than the parent's
        raise PolicyError([Problem(source, 1, 1, "", "the policy changed on disk while the batch was starting", "changed")])
    _WORKER_POLICY = policy
    if mapping is not None:
        from gesture_engine.mapping import loads_mapping  # (the mapping module uses this one)

        _WORKER_MAPPING = _INHERITED_MAPPINGS.get(mapping) or loads_mapping(mapping[1], mapping[0])
    if slots is not None and layout is not None:
        _WORKER_SLOTS = mmap.mmap(slots.fd, 0), layout
        os.close(slots.fd)


def _watch_parent() -> None:
    """End this worker as soon as the process that started it is gone, even killed with SIGKILL (its
    work is lost then anyway): multiprocessing's sentinel for the parent becomes readable when the
    parent's end of the pipe behind it closes, which the kernel does as the parent dies. (A worker
    forked after another holds that one's pipe open too; it sees its own first and exits, so they go
    one after another.)"""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="gesture-watch-parent", daemon=True).start()


def _decide_chunk(chunk: list[tuple[int, Payload]]) -> str:
    policy = _WORKER_POLICY
    assert policy is not None, "worker started without a policy"
    return "".join([decide_payload(policy, line, payload) + "\n" for line, payload in chunk])


def format_of(path: str | os.PathLike[str], explicit: str | None = None) -> str:
    """``csv`` for a ``.csv`` file (or when asked), else ``jsonl``."""
    if explicit:
        return explicit
    return "csv" if os.fspath(path).lower().endswith(".csv") else "jsonl"
