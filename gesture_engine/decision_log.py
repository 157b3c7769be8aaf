"""An append-only audit log of decisions, one JSON object per line (JSON Lines).

Deciding stays pure; logging is a separate object the caller owns::

    from gesture_engine import load_policy
    from gesture_engine.decision_log import DecisionLog, read_log

    policy = load_policy()
    with DecisionLog("decisions.jsonl") as log:
        decision = policy.decide(complaint)
        log.append(complaint, decision)

    for record in read_log("decisions.jsonl"):
        print(record["time"], record["decision"]["action"])

Each record is ``{"complaint", "decision", "policy", "time"}`` (in that order): the complaint as
given, the decision, the policy's name, version and fingerprint, and the UTC time in ISO 8601 with a
``Z``. The decision is written by :func:`gesture_engine.encoding.decision_json`, byte for byte what
``Policy.decide_json`` and batches write (UTF-8; a decision is always valid Unicode). The complaint
is written ASCII-only (``ensure_ascii``), so any input can be logged, even text that is not valid
Unicode.

Guarantees, and why they hold:

* **A line is written whole or not at all, as far as readers can tell.** The file is opened with
  ``O_APPEND`` and each line goes out in one ``os.write`` (looping only on a short write). A crash
  mid-write can leave a partial last line; it has no closing ``"\\n"`` (or does not parse), and
  :func:`read_log` reports and skips it. The next append first reads the last byte (the file is
  opened read-write for this) and, if it is not ``"\\n"``, starts on a fresh line, so one torn
  line never swallows the next record.
* **Concurrent writers never interleave**, across threads and processes: ``O_APPEND`` makes each
  write land at the end, and an exclusive ``flock`` around the write covers lines longer than
  ``PIPE_BUF`` and short writes. (``flock`` is advisory: writers other than this class should
  also append whole lines with ``O_APPEND``.)
* **Durability is the operating system's**: lines reach the page cache at once; pass
  ``fsync=True`` to flush each line to disk before ``append`` returns (slower).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from gesture_engine.decision import Decision
from gesture_engine.encoding import decision_json

try:  # POSIX; elsewhere O_APPEND alone keeps short lines whole
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

RECORD_KEYS = ("time", "policy", "complaint", "decision")


def utc_now() -> str:
    """Now in UTC, ISO 8601 with microseconds and a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def encode_record(record: Mapping[str, Any]) -> bytes:
    """One log line: compact, key-sorted, ASCII-only JSON and a newline (Decimals and times as text)."""
    return _json(record) + b"\n"


def decision_record(time: str, complaint: Mapping[str, Any], decision: Decision) -> bytes:
    """The log line of one decision: :func:`encode_record` of the record, with the decision written by
    the one decision encoder instead of as a key-sorted copy."""
    return (b'{"complaint":' + _json(dict(complaint)) + b',"decision":' + decision_json(decision)
            + b',"policy":' + _json(decision.policy.model_dump(mode="json")) + b',"time":' + _json(time) + b"}\n")


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode("ascii")


class DecisionLog:
    """Appends decisions to a JSON Lines file; safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False, clock: Callable[[], str] = utc_now) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._clock = clock
        self._lock = threading.Lock()
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)

    def append(self, complaint: Mapping[str, Any], decision: Decision) -> None:
        """Log one decision with the complaint it answered."""
        self._write(decision_record(self._clock(), complaint, decision))

    def append_record(self, record: Mapping[str, Any]) -> None:
        """Append any JSON-able record as one line (the primitive :meth:`append` uses)."""
        self._write(encode_record(record))

    def _write(self, line: bytes) -> None:
        with self._lock:
            fd = self._fd
            if fd is None:
                raise ValueError("the decision log is closed")
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if _ends_torn(fd):
                    line = b"\n" + line  # a writer died mid-line: keep our record on a line of its own
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view):]
                if self._fsync:
                    os.fsync(fd)
            finally:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def read_log(path: str | os.PathLike[str], on_torn: Callable[[int, bytes], None] | None = None) -> Iterator[dict[str, Any]]:
    """Yield each complete record of a decision log, in file order.

    A torn line (no closing newline, not JSON, or not a record) is skipped and passed to
    ``on_torn(line_number, raw_bytes)`` if given: readers never mistake a partial write for data.
    """
    number = 0
    with open(path, "rb") as file:
        for raw in file:
            number += 1
            if not raw.endswith(b"\n"):
                _torn(on_torn, number, raw)
                break
            if raw == b"\n":
                continue  # the fresh-line separator written after a torn line
            try:
                record = json.loads(raw)
            except ValueError:
                _torn(on_torn, number, raw)
                continue
            if not isinstance(record, dict) or any(key not in record for key in RECORD_KEYS):
                _torn(on_torn, number, raw)
                continue
            yield record


def _torn(on_torn: Callable[[int, bytes], None] | None, number: int, raw: bytes) -> None:
    if on_torn is not None:
        on_torn(number, raw)
