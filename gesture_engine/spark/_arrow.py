"""Executor side: Arrow record batches in, complaints out; decisions in, typed Arrow columns out.

Runs inside Spark's Python workers through ``mapInArrow``: a batch at a time, never a Python call
per row from the JVM. The input columns go back out untouched beside the decision's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from gesture_engine.complaint import parse_complaint_json
from gesture_engine.decision import Decision
from gesture_engine.errors import ComplaintError, FieldProblem
from gesture_engine.mapping import Mapping, loads_mapping
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
    mapping: tuple[str, str] | None = None
    """A helpdesk mapping's file name and text: each row (every column) or JSON text is a ticket payload."""


def raw_rows(batch: pa.RecordBatch, reading: Reading) -> list[Any]:
    """Each row's complaint before any policy types it: a dict, or a ComplaintError (JSON that does not
    parse), or None (a blank JSON line)."""
    if reading.mode == "json":
        (column, _), = reading.columns
        return [_parse(text) for text in batch.column(column).to_pylist()]
    keys = [fact for _, fact in reading.columns]
    values = [_python(batch.column(column)) for column, _ in reading.columns]
    if reading.mapping is not None:  # a payload: every column, nulls and all, as the helpdesk's JSON would hold them
        return [dict(zip(keys, row, strict=True)) for row in zip(*values, strict=True)]
    if reading.mode == "text":
        return [{k: v.strip() if isinstance(v, str) else v for k, v in zip(keys, row, strict=True) if not _blank(v)}
                for row in zip(*values, strict=True)]
    return [{k: v for k, v in zip(keys, row, strict=True) if v is not None} for row in zip(*values, strict=True)]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


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
    if pa.types.is_timestamp(column.type):  # as text by Arrow: '2026-12-01 09:30:00.000000+0000', which the engine reads
        column = column.cast(pa.string())
    values: list[Any] = column.to_pylist()
    return values


# -- decisions as columns ---------------------------------------------------------------------------

ERROR_CODE = "invalid_complaint"
"""``error.code`` of a row that is not a valid complaint (as ``gesture decide --batch`` error records say)."""


def decision_type(scale: int, echo: Sequence[str]) -> list[tuple[str, pa.DataType]]:
    """The decision's columns and their Arrow types. Money has the currency's minor unit as its scale: a
    budget, never above the budget cap (at most 10^12), fits decimal(18, scale), which Spark keeps in a
    long and Parquet as INT64; an owed amount (a share of a money fact) gets decimal(38, scale)."""
    budget, money = pa.decimal128(18, scale), pa.decimal128(38, scale)
    problem = pa.struct([("field", pa.string()), ("code", pa.string()), ("message", pa.string())])
    return [
        *((name, pa.timestamp("us", tz="UTC") if name == "received_at" else pa.string()) for name in echo),
        ("decision_id", pa.string()),
        ("action", pa.string()),
        ("action_label", pa.string()),
        ("rule", pa.string()),
        ("gestures", pa.list_(pa.struct([("id", pa.string()), ("label", pa.string()), ("monetary", pa.bool_())]))),
        ("budget_amount", budget),
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
    mapping = mapping_for(*reading.mapping) if reading.mapping is not None else None
    types = decision_type(output.scale, output.echo)
    names = [name for name, _ in types]
    for batch in batches:
        results = [_decided(policy, raw, reading, mapping) for raw in raw_rows(batch, reading)]
        arrays = [pa.array(values, type=kind) for values, (_, kind) in zip(_columns(results, policy, output.echo), types, strict=True)]
        yield pa.RecordBatch.from_arrays([*batch.columns, *arrays], names=[*batch.schema.names, *names])


def _decided(policy: Policy, raw: Any, reading: Reading, mapping: Mapping | None) -> Decision | ComplaintError:
    if raw is None:
        return ComplaintError([FieldProblem("complaint", "is blank", None, "blank")])
    if isinstance(raw, ComplaintError):
        return raw
    try:
        return policy.decide(mapping.apply(raw) if mapping is not None else typed(policy, raw, reading))
    except ComplaintError as error:  # a PayloadError from the mapping too
        return error


_MAPPINGS: dict[tuple[str, str], Mapping] = {}


def mapping_for(name: str, text: str) -> Mapping:
    """A mapping from its text, loaded once per process."""
    found = _MAPPINGS.get((name, text))
    if found is None:
        while len(_MAPPINGS) >= 8:
            _MAPPINGS.pop(next(iter(_MAPPINGS)))
        found = _MAPPINGS[(name, text)] = loads_mapping(text, name)
    return found


def _columns(results: list[Decision | ComplaintError], policy: Policy, echo: Sequence[str]) -> list[list[Any]]:
    """The decision columns of one batch as Python lists, a column at a time (a list comprehension per
    column costs less than appending a row to every column); null where a row is not a complaint."""
    ds: list[Decision | None] = [r if isinstance(r, Decision) else None for r in results]
    n = len(ds)
    gestures: dict[int, list[dict[str, Any]]] = {}  # one tuple per outcome: converted once

    def gestures_of(d: Decision) -> list[dict[str, Any]]:
        found = gestures.get(id(d.gestures))
        if found is None:
            found = gestures[id(d.gestures)] = [{"id": g.id, "label": g.label, "monetary": g.monetary} for g in d.gestures]
        return found

    def owed_of(d: Decision) -> list[dict[str, Any]]:
        return [{"gesture": o.gesture, "amount": o.amount, "currency": o.currency, "text": o.text} for o in d.owed] if d.owed else []

    def problems_of(r: Decision | ComplaintError) -> dict[str, Any] | None:
        if isinstance(r, Decision):
            return None
        return {"code": ERROR_CODE, "problems": [{"field": p.field, "code": p.code, "message": p.message} for p in r.problems]}

    ref = policy.compiled
    return [
        *([getattr(d, name) if d is not None else None for d in ds] for name in echo),
        [d.decision_id if d is not None else None for d in ds],
        [d.action if d is not None else None for d in ds],
        [d.action_label if d is not None else None for d in ds],
        [d.rule if d is not None else None for d in ds],
        [gestures_of(d) if d is not None else None for d in ds],
        [d.budget.amount if d is not None else None for d in ds],
        [d.budget.currency if d is not None else None for d in ds],
        [owed_of(d) if d is not None else None for d in ds],
        [d.respond_within if d is not None else None for d in ds],
        [d.respond_within_seconds if d is not None else None for d in ds],
        [d.respond_by if d is not None else None for d in ds],
        [d.approval.level if d is not None else None for d in ds],
        [[t.rule for t in d.trace] if d is not None else None for d in ds],
        [list(d.reasons) if d is not None else None for d in ds],
        [ref.name] * n, [ref.version] * n, [ref.fingerprint] * n,
        [problems_of(r) for r in results],
    ]
