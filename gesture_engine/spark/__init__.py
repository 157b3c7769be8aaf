"""Decisions and policy replays on Apache Spark (extra ``gesture-engine[spark]``: PySpark 4, PyArrow).

A warehouse of complaints is decided where it lies, by the same engine as everywhere else: the policy
travels to the executors as its files' bytes (:class:`PolicyFiles`), is compiled once per executor
process and checked against the driver's fingerprint, and decides Arrow batches through
``mapInArrow``. The answers are ``policy.decide``'s, column for column; rows that are not valid
complaints are kept, with an ``error`` struct saying why.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import sys
from collections.abc import Iterator, Sequence
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from gesture_engine.decision import Decision
from gesture_engine.engine.facts import ENVELOPE
from gesture_engine.errors import ComplaintError, ComplaintFileError
from gesture_engine.money import MINOR_UNITS
from gesture_engine.policy import Policy
from gesture_engine.spark._arrow import ERROR_CODE, Mode, Output, Reading, decide_batches, decision_type, mapping_for, raw_rows
from gesture_engine.spark._policy import PolicyFiles, SparkError, as_files, policy_for, unwrapped
from gesture_engine.tools.diff import BREAKDOWN, BadLine, Changed, Record, Replay, empty_replay, json_record, mapped, record_label, replay

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["ERROR_CODE", "PolicyFiles", "SparkError", "decide_dataframe", "decision_columns", "replay_dataframe", "replay_summary", "session"]

PolicyLike = Policy | PolicyFiles | str | os.PathLike[str] | None
"""A loaded policy, its files, or a path to them (None: the embedded default)."""


def session(master: str = "local[2]", app_name: str = "gesture", conf: dict[str, str] | None = None) -> SparkSession:
    """A SparkSession for deciding. On a ``local`` master every address stays on loopback
    (``SPARK_LOCAL_IP=127.0.0.1``, ``spark.driver.host=127.0.0.1``) and Python workers run this
    interpreter (so they import this gesture-engine); the web UI is off. Under spark-submit, its
    ``--master`` and ``--conf`` stand."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # set by spark-submit for the Python driver it starts
        builder = builder.master(master).config("spark.ui.enabled", "false")
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def decision_columns() -> list[str]:
    """The names of the columns :func:`decide_dataframe` adds (envelope echoes aside)."""
    return [name for name, _ in decision_type(0, ())]


def decide_dataframe(df: DataFrame, policy: PolicyLike = None, *, mapping: str | os.PathLike[str] | None = None, json_column: str | None = None,
                     text: bool = False) -> DataFrame:
    """``df`` with each row's decision added as typed columns (see docs/spark.md): action, rule, gestures,
    budget_amount as decimal(18, the currency's minor unit), owed, respond_within_seconds, approval_level,
    reasons, decision_id, the policy's fingerprint, and ``error`` (null, or the code and every problem of
    a row that is not a valid complaint: such rows are kept, never dropped). Lazy, like any DataFrame.

    Columns named after the policy's facts (and ``complaint_id``, ``customer_id``, ``received_at``) are
    the complaint; a null is a fact left out; other columns pass through untouched. ``text=True`` types
    string cells like ``gesture decide --batch`` types CSV cells; ``json_column`` names a column of JSON
    complaints, parsed as ``gesture decide --batch`` parses a line. With ``mapping`` (a shipped helpdesk
    mapping's name or a path, see :mod:`gesture_engine.mapping`) each row, every column of it, or each
    JSON text is a ticket payload the mapping turns into the complaint.

    Raises ``PolicyError`` or ``MappingError`` when the policy or mapping does not load (or the mapping
    does not fit the policy) and ``SparkError`` (``column-conflict``, ``json-column``, ``mapping``) when
    the columns cannot work.
    """
    files = as_files(policy)
    compiled = policy_for(files)
    reading = _reading(df.columns, [compiled], json_column, text, mapping)
    echo = tuple(name for name in ENVELOPE if name not in df.columns)
    output = Output(MINOR_UNITS[compiled.currency], echo)
    added = decision_type(output.scale, echo)
    _refuse_conflicts(df.columns, [name for name, _ in added])
    schema = _spark_schema(df, added)
    return df.mapInArrow(partial(decide_batches, files, reading, output), schema)


def _mapping_text(mapping: str | os.PathLike[str], policies: Sequence[Policy], text: bool) -> tuple[str, str]:
    """A mapping's file name and text, checked here against every policy, for executors to load."""
    from gesture_engine.mapping import MappingError, load_mapping

    if text:
        raise SparkError("mapping", "a mapping reads helpdesk payloads (typed columns or JSON text), not CSV text")
    loaded = load_mapping(mapping)
    problems = list(dict.fromkeys(problem for policy in policies for problem in loaded.check(policy)))
    if problems:
        raise MappingError(problems)
    return loaded.file, Path(loaded.file).read_text(encoding="utf-8")


# -- replay ----------------------------------------------------------------------------------------

def replay_dataframe(df: DataFrame, old: PolicyLike, new: PolicyLike, *, mapping: str | os.PathLike[str] | None = None,
                     json_column: str | None = None, text: bool = False) -> DataFrame:
    """``df`` with each row decided under both policies, side by side: ``old_action``, ``new_action``,
    ``old_budget``, ``new_budget``, ``budget_delta`` (new − old, 0 when either could not decide),
    ``old_error``/``new_error`` (the error code when that policy found the row invalid), ``changed``
    (which of action, rule, gestures, budget, respond_within, approval differ; ``["validity"]`` when
    only one policy could decide), and ``bad_line`` (why a JSON row is no complaint at all). Rows are
    read as :func:`decide_dataframe` reads them, ``mapping`` included (checked against both policies)."""
    old_files, new_files = as_files(old), as_files(new)
    policies = [policy_for(old_files), policy_for(new_files)]
    reading = _reading(df.columns, policies, json_column, text, mapping)
    added = _replay_type(*(MINOR_UNITS[p.currency] for p in policies))
    _refuse_conflicts(df.columns, [name for name, _ in added])
    return df.mapInArrow(partial(_replay_batches, old_files, new_files, reading), _spark_schema(df, added))


_COMPARED = ("action", "rule", "gestures", "budget", "respond_within", "approval")


def _replay_type(old_scale: int, new_scale: int) -> list[tuple[str, pa.DataType]]:
    scale = max(old_scale, new_scale)
    return [
        ("old_action", pa.string()), ("new_action", pa.string()),
        ("old_budget", pa.decimal128(18, old_scale)), ("new_budget", pa.decimal128(18, new_scale)),
        ("budget_delta", pa.decimal128(18, scale)),
        ("old_error", pa.string()), ("new_error", pa.string()),
        ("changed", pa.list_(pa.string())), ("bad_line", pa.string()),
    ]


def _replay_batches(old_files: PolicyFiles, new_files: PolicyFiles, reading: Reading, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    old, new = policy_for(old_files), policy_for(new_files)
    types = _replay_type(MINOR_UNITS[old.currency], MINOR_UNITS[new.currency])
    mapping = mapping_for(*reading.mapping) if reading.mapping is not None else None
    for batch in batches:
        lists: list[list[Any]] = [[] for _ in types]
        for record in _records(batch, reading, 0):
            if isinstance(record, Record) and mapping is not None:
                record = next(mapped([record], mapping))
            if isinstance(record, Record):
                row = _compare(_decide(old, record), _decide(new, record))
            else:
                row = [None] * 8 + ["blank line" if record is None else record.message]
            for values, value in zip(lists, row, strict=True):
                values.append(value)
        arrays = [pa.array(values, type=kind) for values, (_, kind) in zip(lists, types, strict=True)]
        yield pa.RecordBatch.from_arrays([*batch.columns, *arrays], names=[*batch.schema.names, *(name for name, _ in types)])


def _records(batch: pa.RecordBatch, reading: Reading, first: int) -> Iterator[Record | BadLine | None]:
    """Each row as ``gesture diff --replay`` reads a line or row numbered from ``first``: a record, a bad
    line, or None for a blank JSON line. Raises ``SparkError`` (``input``) for a line that is a decision."""
    if reading.mode != "json":
        for number, raw in enumerate(raw_rows(batch, reading), first):
            yield Record(record_label(raw, f"row {number}"), raw, text_fields=reading.mode == "text")
        return
    # JSON text: one column, read as gesture diff --replay reads a line
    (column, _), = reading.columns
    for number, text in enumerate(batch.column(column).to_pylist(), first):
        try:
            yield json_record(number, text) if text is not None and text.strip() else None
        except ComplaintFileError as error:
            raise SparkError("input", str(error)) from None


def _decide(policy: Policy, record: Record) -> Decision | str:
    try:
        return policy.decide(record.complaint_for(policy))
    except ComplaintError:
        return ERROR_CODE


def _compare(before: Decision | str, after: Decision | str) -> list[Any]:
    """One row of the replay columns, as :func:`gesture_engine.tools.diff.replay` compares decisions."""
    old_ok, new_ok = isinstance(before, Decision), isinstance(after, Decision)
    old_budget = before.budget.amount if isinstance(before, Decision) else None
    new_budget = after.budget.amount if isinstance(after, Decision) else None
    if isinstance(before, Decision) and isinstance(after, Decision):
        was, now = _outcome(before), _outcome(after)
        changed = [name for name in _COMPARED if was[name] != now[name]]
    else:
        changed = [] if not old_ok and not new_ok else ["validity"]
    delta = new_budget - old_budget if old_budget is not None and new_budget is not None else Decimal(0)
    return [
        before.action if isinstance(before, Decision) else None, after.action if isinstance(after, Decision) else None,
        old_budget, new_budget, delta,
        None if old_ok else before, None if new_ok else after, changed, None,
    ]


def _outcome(decision: Decision) -> dict[str, Any]:
    return {"action": decision.action, "rule": decision.rule, "gestures": tuple(g.id for g in decision.gestures),
            "budget": decision.budget.amount, "respond_within": decision.respond_within_seconds, "approval": decision.approval.level}


def replay_summary(df: DataFrame, old: PolicyLike, new: PolicyLike, *, top: int = 10, samples: int = 10, by: Sequence[str] = BREAKDOWN,
                   mapping: str | os.PathLike[str] | None = None, json_column: str | None = None, text: bool = False,
                   first_line: int = 1) -> Replay:
    """What ``gesture diff --replay`` reports for the same complaints, computed on Spark: the very
    :class:`~gesture_engine.tools.diff.Replay` (its ``to_dict()`` is equal to the local one's): decisions
    changed by kind, action transitions, the budget delta in total, by action and by the facts of ``by``
    (tier and channel by default, where the policies have them).

    Each partition replays its rows with the local ``replay`` and sends back its totals; the driver adds
    them up. Complaints without a ``complaint_id`` are named by position, ``line N`` (``json_column``) or
    ``row N``, counted from ``first_line`` (2 for a CSV file's first row after its header) in the
    DataFrame's partition order, which is the file's order for one file. Two Spark jobs: counting each
    partition's rows (so positions are known), then the replay.
    """
    from pyspark.sql import functions as F

    old_files, new_files = as_files(old), as_files(new)
    old_policy, new_policy = policy_for(old_files), policy_for(new_files)
    reading = _reading(df.columns, [old_policy, new_policy], json_column, text, mapping)
    with unwrapped():
        counts: dict[int, int] = {row["p"]: row["count"] for row in df.select(F.spark_partition_id().alias("p")).groupBy("p").count().collect()}
        offsets: dict[int, int] = {}
        running = first_line
        for index in sorted(counts):
            offsets[index] = running
            running += counts[index]
        task = partial(_replay_partition, old_files, new_files, reading, offsets, top, samples, tuple(by))
        partials = df.mapInArrow(task, "partition int, partial binary").collect()
    result = empty_replay(old_policy, new_policy, by)
    tops: list[tuple[Decimal, int, int, Changed]] = []
    for row in sorted(partials, key=lambda r: r["partition"]):
        totals: Replay = pickle.loads(row["partial"])  # made by our own executors, just now
        _merge(result, totals)
        result.bad_samples = result.bad_samples[:samples]
        # each partition's top is in (-|delta|, position) order and partitions follow one another
        tops.extend((-abs(change.delta), row["partition"], rank, change) for rank, change in enumerate(totals.top))
    result.top = [change for *_, change in sorted(tops, key=lambda t: t[:3])[:top]]
    return result


def _replay_partition(old_files: PolicyFiles, new_files: PolicyFiles, reading: Reading, offsets: dict[int, int], top: int, samples: int,
                      by: tuple[str, ...], batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """One partition's replay, by the local ``replay``, pickled into one row."""
    from pyspark import TaskContext

    context = TaskContext.get()
    part = context.partitionId() if context is not None else 0
    old, new = policy_for(old_files), policy_for(new_files)
    position = offsets.get(part, 0)

    def records() -> Iterator[Record | BadLine]:
        nonlocal position
        for batch in batches:
            for record in _records(batch, reading, position):
                if record is not None:
                    yield record
            position += batch.num_rows

    found = records() if reading.mapping is None else mapped(records(), mapping_for(*reading.mapping))
    result = replay(old, new, found, top=top, samples=samples, by=by)
    yield pa.RecordBatch.from_arrays([pa.array([part], pa.int32()), pa.array([pickle.dumps(result)], pa.binary())], names=["partition", "partial"])


def _merge(total: Replay, part: Replay) -> None:
    total.complaints += part.complaints
    total.logged += part.logged
    total.bad_lines += part.bad_lines
    total.bad_samples.extend(part.bad_samples)
    total.decided_both += part.decided_both
    total.invalid_old += part.invalid_old
    total.invalid_new += part.invalid_new
    total.changed += part.changed
    total.field_counts.update(part.field_counts)
    total.transitions.update(part.transitions)
    total.budget_old += part.budget_old
    total.budget_new += part.budget_new
    pairs = [(total.by_action_old, part.by_action_old), (total.by_action_new, part.by_action_new)]
    pairs += [(total.by_fact_old[name], part.by_fact_old[name]) for name in part.by_fact_old]
    pairs += [(total.by_fact_new[name], part.by_fact_new[name]) for name in part.by_fact_new]
    for mine, theirs in pairs:
        for key, amount in theirs.items():
            mine[key] = mine.get(key, Decimal(0)) + amount


# -- shared ----------------------------------------------------------------------------------------

def _reading(columns: Sequence[str], policies: Sequence[Policy], json_column: str | None, text: bool,
             mapping: str | os.PathLike[str] | None = None) -> Reading:
    """How rows become complaints for ``policies``; with a mapping each JSON text, or the whole row
    (every column), is a payload."""
    if mapping is not None:
        reading = _reading(columns, policies, json_column, text)
        whole = reading.columns if json_column is not None else tuple((c, c) for c in columns)
        return dataclasses.replace(reading, columns=whole, mapping=_mapping_text(mapping, policies, text))
    mode: Mode = "json" if json_column is not None else "text" if text else "columns"
    if json_column is not None:
        if json_column not in columns:
            raise SparkError("json-column", f"no column {json_column!r} to read JSON complaints from (columns: {', '.join(columns)})")
        return Reading(mode, ((json_column, json_column),))
    if text:  # every column is a field, as in a CSV file
        return Reading(mode, tuple((column, column.strip().lstrip("\ufeff")) for column in columns))
    wanted = {name for policy in policies for name in policy.facts} | set(ENVELOPE)
    return Reading(mode, tuple((column, column) for column in columns if column in wanted))


def _refuse_conflicts(columns: Sequence[str], added: Sequence[str]) -> None:
    clash = sorted(set(columns) & set(added))
    if clash:
        raise SparkError("column-conflict", f"the input already has column(s) {', '.join(clash)} that deciding adds: rename or drop them")


def _spark_schema(df: DataFrame, added: Sequence[tuple[str, pa.DataType]]) -> Any:
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import StructField, StructType

    return StructType([*df.schema.fields, *(StructField(name, from_arrow_type(kind), True) for name, kind in added)])
