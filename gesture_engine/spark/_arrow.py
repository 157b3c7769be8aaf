"""Executor side: Arrow record batches in, complaints out; decisions in, typed Arrow columns out.

Runs inside Spark's Python workers through ``mapInArrow``: a batch at a time, never a Python call
per row from the JVM. The input columns go back out untouched beside the decision's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa

from gesture_engine.complaint import parse_complaint_json
from gesture_engine.decision import Decision
from gesture_engine.errors import ComplaintError, FieldProblem
from gesture_engine.policy import Policy
from gesture_engine.spark._policy import PolicyFiles, policy_for

Mode = Literal["columns", "text", "json"]


@dataclass(frozen=True)
class Reading:
    """How a row becomes a complaint. ``columns``: typed columns named after facts (nulls left out, as
    JSON ``null`` is); ``text``: string columns typed like the command line and CSV batches type them
    (blank cells left out); ``json``: one column of JSON text, parsed as ``gesture decide --batch``
    parses a line. ``columns`` lists (column, fact) pairs; in ``json`` mode it is the JSON column."""

    mode: Mode
    columns: tuple[tuple[str, str], ...]


def raw_rows(batch: pa.RecordBatch, reading: Reading) -> list[Any]:
    """Each row's complaint before any policy types it: a dict, or a ComplaintError (JSON that does not
    parse), or None (a blank JSON line)."""
    if reading.mode == "json":
        (column, _), = reading.columns
        return [_parse(text) for text in batch.column(column).to_pylist()]
    keys = [fact for _, fact in reading.columns]
    values = [_python(batch.column(column)) for column, _ in reading.columns]
    if reading.mode == "text":
        return [{k: v.strip() if isinstance(v, str) else v for k, v in zip(keys, row, strict=True) if v is not None and v != "" and
                 not (isinstance(v, str) and not v.strip())} for row in zip(*values, strict=True)]
    return [{k: v for k, v in zip(keys, row, strict=True) if v is not None} for row in zip(*values, strict=True)]


def typed(policy: Policy, raw: dict[str, Any], reading: Reading) -> dict[str, Any]:
    """A raw row as ``policy`` reads it: text cells typed by its facts in ``text`` mode."""
    if reading.mode != "text":
        return raw
    texts = {k: v for k, v in raw.items() if isinstance(v, str)}
    return {**raw, **policy.complaint_from_text(texts)} if texts else raw


def _parse(text: str | None) -> Any:
    if text is None or not text.strip():
        return None
    try:
        return parse_complaint_json(text, "complaint")
    except ComplaintError as error:
        return error


def _python(column: pa.Array) -> list[Any]:
    """A column's values as the JSON of a complaint would hold them: times as ISO 8601 text."""
    values: list[Any] = column.to_pylist()
    if pa.types.is_timestamp(column.type):
        return [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return values


# -- decisions as columns ---------------------------------------------------------------------------

ERROR_CODE = "invalid_complaint"
"""``error.code`` of a row that is not a valid complaint (as ``gesture decide --batch`` error records say)."""


def decision_type(scale: int, echo: Sequence[str]) -> list[tuple[str, pa.DataType]]:
    """The decision's columns and their Arrow types (money as decimal(38, the currency's minor unit))."""
    money = pa.decimal128(38, scale)
    problem = pa.struct([("field", pa.string()), ("code", pa.string()), ("message", pa.string())])
    return [
        *((name, pa.timestamp("us", tz="UTC") if name == "received_at" else pa.string()) for name in echo),
        ("decision_id", pa.string()),
        ("action", pa.string()),
        ("action_label", pa.string()),
        ("rule", pa.string()),
        ("gestures", pa.list_(pa.struct([("id", pa.string()), ("label", pa.string()), ("monetary", pa.bool_())]))),
        ("budget_amount", money),
        ("budget_currency", pa.string()),
        ("owed", pa.list_(pa.struct([("gesture", pa.string()), ("amount", money), ("currency", pa.string()), ("text", pa.string())]))),
        ("respond_within", pa.string()),
        ("respond_within_seconds", pa.int64()),
        ("respond_by", pa.timestamp("us", tz="UTC")),
        ("approval_level", pa.string()),
        ("rules_fired", pa.list_(pa.string())),
        ("reasons", pa.list_(pa.string())),
        ("policy_name", pa.string()),
        ("policy_version", pa.string()),
        ("policy_fingerprint", pa.string()),
        ("error", pa.struct([("code", pa.string()), ("problems", pa.list_(problem))])),
    ]


@dataclass(frozen=True)
class Output:
    """What the decision columns look like: the currency's scale, and the envelope fields echoed as
    columns (those the input does not already have as columns)."""

    scale: int
    echo: tuple[str, ...]


def decide_batches(files: PolicyFiles, reading: Reading, output: Output, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow``'s function: each batch with its decision columns added."""
    policy = policy_for(files)
    types = decision_type(output.scale, output.echo)
    for batch in batches:
        columns = _Columns(len(types))
        for raw in raw_rows(batch, reading):
            if raw is None:
                columns.refuse(ComplaintError([FieldProblem("complaint", "is blank", None, "blank")]), policy, output.echo)
            elif isinstance(raw, ComplaintError):
                columns.refuse(raw, policy, output.echo)
            else:
                try:
                    decision = policy.decide(typed(policy, raw, reading))
                except ComplaintError as error:
                    columns.refuse(error, policy, output.echo)
                else:
                    columns.add(decision, output.echo)
        arrays = [pa.array(values, type=kind) for values, (_, kind) in zip(columns.lists, types, strict=True)]
        yield pa.RecordBatch.from_arrays([*batch.columns, *arrays], names=[*batch.schema.names, *(name for name, _ in types)])


class _Columns:
    """The decision columns of one batch, as Python lists (converted to Arrow once per batch)."""

    def __init__(self, count: int) -> None:
        self.lists: list[list[Any]] = [[] for _ in range(count)]
        self._gestures: dict[int, list[dict[str, Any]]] = {}

    def add(self, d: Decision, echo: Sequence[str]) -> None:
        gestures = self._gestures.get(id(d.gestures))  # one tuple per outcome: converted once
        if gestures is None:
            gestures = self._gestures[id(d.gestures)] = [{"id": g.id, "label": g.label, "monetary": g.monetary} for g in d.gestures]
        budget, policy = d.budget, d.policy
        row = [
            *(getattr(d, name) for name in echo),
            d.decision_id, d.action, d.action_label, d.rule, gestures, budget.amount, budget.currency,
            [{"gesture": o.gesture, "amount": o.amount, "currency": o.currency, "text": o.text} for o in d.owed],
            d.respond_within, d.respond_within_seconds, d.respond_by, d.approval.level,
            [t.rule for t in d.trace], list(d.reasons), policy.name, policy.version, policy.fingerprint, None,
        ]
        for values, value in zip(self.lists, row, strict=True):
            values.append(value)

    def refuse(self, error: ComplaintError, policy: Policy, echo: Sequence[str]) -> None:
        """A row that is not a valid complaint: no decision, the policy that said so, and every problem."""
        problems = [{"field": p.field, "code": p.code, "message": p.message} for p in error.problems]
        row = [*(None for _ in echo), *([None] * 14), policy.name, policy.version, policy.fingerprint, {"code": ERROR_CODE, "problems": problems}]
        for values, value in zip(self.lists, row, strict=True):
            values.append(value)
