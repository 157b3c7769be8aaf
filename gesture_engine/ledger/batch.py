"""Deciding a batch through a goodwill ledger: each complaint decided and reserved in input order.

Each row is one ``Ledger.decide`` (one transaction), so a row is reserved whole or not at all, and a
row's history facts see every row before it. Deciding is idempotent by complaint id: a batch run again
(after a crash, or on purpose) returns the reservations the first run made (``"existing": true``)
and reserves nothing twice. Rows go one after another in one process: rows of one customer must be
decided in order, and the ledger's writes are one at a time on SQLite anyway.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from gesture_engine.batch import BadRow, Payload, Sink, error_record, read_records
from gesture_engine.complaint import parse_complaint_json
from gesture_engine.encoding import decision_json
from gesture_engine.errors import ComplaintError, FieldProblem, LedgerError
from gesture_engine.ledger.store import Ledger
from gesture_engine.policy import Policy

if TYPE_CHECKING:
    from gesture_engine.mapping import Mapping

ROW_REFUSALS = ("complaint_id_reused",)
"""Ledger refusals that belong to one row: written in its place, and the batch goes on. Any other
(the database failing, a policy without a goodwill window, a bad --team) stops the batch."""


def decide_through(ledger: Ledger, policy: Policy, stream: IO[bytes], sink: Sink, fmt: str = "jsonl", *, team: str | None = None,
                   actor: str | None = None, mapping: Mapping | None = None, progress: Callable[[int], object] | None = None) -> int:
    """Decide and reserve every complaint in ``stream`` through ``ledger``, in order, writing one JSON line
    each to ``sink``: ``{"decision": ..., "reservation": ...}`` as ``gesture decide --ledger --json``
    gives it, or an error record (``{"line", "error", ...}``) for a bad row; returns how many.
    ``mapping`` reads each JSON line as a helpdesk payload."""
    count = 0
    for line, payload in read_records(stream, fmt):
        sink.write(decide_row(ledger, policy, line, payload, team=team, actor=actor, mapping=mapping) + b"\n")
        count += 1
        if progress is not None:
            progress(1)
    return count


def decide_row(ledger: Ledger, policy: Policy, line: int, payload: Payload, *, team: str | None = None, actor: str | None = None,
               mapping: Mapping | None = None) -> bytes:
    """One output line (without its newline) for one row."""
    if isinstance(payload, BadRow):
        return error_record(line, ComplaintError([FieldProblem(f"line {line}", payload.message, None, payload.code)])).encode()
    try:
        if isinstance(payload, dict):
            complaint: Any = policy.complaint_from_text(payload)
        else:
            complaint = parse_complaint_json(payload, f"line {line}")
            if mapping is not None:
                complaint = mapping.apply(complaint)
        decision, reservation = ledger.decide(policy, complaint, team=team, actor=actor)
    except ComplaintError as error:
        return error_record(line, error).encode()
    except UnicodeDecodeError:
        return error_record(line, ComplaintError([FieldProblem(f"line {line}", "is not valid UTF-8")])).encode()
    except LedgerError as error:
        if error.code not in ROW_REFUSALS:
            raise
        return json.dumps({"line": line, **error.to_dict()}, ensure_ascii=False).encode()
    reserved = json.dumps(reservation.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
    return b'{"decision":' + decision_json(decision) + b',"reservation":' + reserved + b"}"
