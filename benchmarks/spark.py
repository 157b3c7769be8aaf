"""Spark against the local batch on the same complaints, same run.

    python -m benchmarks.spark [--complaints 10000000] [--master local[2]] [--data /tmp/gesture-spark-bench] [--generate-only]

Makes N default-policy complaints once and keeps them under ``--data`` (reused by later runs with the
same N): the same rows as JSON Lines (what ``gesture decide --batch`` reads) and as Parquet in
``FILES`` files (typed as a warehouse holds them: money ``decimal(14,2)``, the time a timestamp).
Money is to the cent and never repeats within a block of 10,000 (longer than any engine cache), ids and
``received_at`` never repeat at all, and one row in 100 is not a valid complaint (a missing severity,
an unknown channel, a negative audience, an unknown severity level).

Then times, in this order: ``gesture decide --batch --workers 2`` on the JSON Lines (a fresh process,
wall clock), Spark's start-up (a new session and a first small job: the JVM, the scheduler, Python
workers importing the engine and compiling the policy), and ``gesture_engine.spark.decide_dataframe``
from the Parquet to a Parquet directory of decisions (every decision column written). Rates per core
are complaints a second divided by the cores each side had (2 workers; local[N]). While Spark decides,
the resident memory of its Python workers and of its JVM is sampled from /proc. Both sides must find
the same number of invalid rows, and the first 1,000 Spark decisions must equal ``policy.decide``'s.
The decisions written are removed after the run; the inputs are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gesture_engine import load_policy

from .batch import time_batch
from .table import default_policy_complaints

SCHEMA = pa.schema([
    ("complaint_id", pa.string()), ("customer_id", pa.int64()), ("received_at", pa.timestamp("us", tz="UTC")),
    ("severity", pa.string()), ("channel", pa.string()), ("audience", pa.int64()), ("issue_type", pa.string()),
    ("customer_value", pa.decimal128(14, 2)), ("order_value", pa.decimal128(14, 2)), ("goodwill_last_90d", pa.decimal128(14, 2)),
])
FILES = 16
"""Parquet files the complaints are split into; each is read as one partition (8 per core on local[2])."""
BLOCK = 10_000
"""Complaints are drawn in blocks with their own seed (money never repeats within a block)."""
ROW_GROUP = 250_000
BAD = ({"severity": None}, {"channel": "fax"}, {"audience": -3}, {"severity": "urgent"})
"""Row 100k+37 is broken the (k mod 4)th way: 1% of the rows are error rows on both sides."""
START = datetime(2026, 1, 1, tzinfo=UTC)
FORMAT = "2"
"""Bumped when the generated data changes, so an old cache is not reused."""


def complaints(count: int) -> Iterator[dict[str, Any]]:
    """The benchmark's rows in order: envelope and facts, ``None`` for a fact left out."""
    base_us = int(START.timestamp()) * 1_000_000
    for block, start in enumerate(range(0, count, BLOCK)):
        for number, facts in enumerate(default_policy_complaints(min(BLOCK, count - start), seed=7_000_003 + block), start):
            row = {"complaint_id": f"c{number:08d}", "customer_id": 100_000 + number % 77_777, "received_at": base_us + number * 1_000_000,
                   **facts}
            if number % 100 == 37:
                row.update(BAD[number // 100 % len(BAD)])
            yield row


def _json_line(row: dict[str, Any]) -> str:
    moment = datetime.fromtimestamp(row["received_at"] / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = ",".join(f'"{k}":{v if isinstance(v, Decimal | int) else json.dumps(v)}' for k, v in row.items() if k != "received_at")
    return f'{{"received_at":"{moment}",{body}}}\n'


@dataclass(frozen=True)
class Data:
    jsonl: Path
    parquet: Path
    count: int
    invalid: int


def prepare(folder: Path, count: int) -> Data:
    """The inputs for ``count`` complaints under ``folder``, written once: a ``complete`` file marks a
    finished set, so an interrupted write is redone rather than reused."""
    jsonl, parquet, marker = folder / "complaints.jsonl", folder / "complaints.parquet", folder / "complete"
    if marker.exists() and json.loads(marker.read_text()).get("format") == FORMAT:
        return Data(jsonl, parquet, count, json.loads(marker.read_text())["invalid"])
    shutil.rmtree(folder, ignore_errors=True)
    parquet.mkdir(parents=True)
    started = time.perf_counter()
    per_file = -(-count // FILES)
    rows = complaints(count)
    invalid = 0
    with jsonl.open("w", encoding="utf-8") as lines:
        for part in range(FILES):
            with pq.ParquetWriter(parquet / f"part-{part:02d}.parquet", SCHEMA) as writer:
                left = min(per_file, count - part * per_file)
                while left > 0:
                    chunk = [row for _, row in zip(range(min(ROW_GROUP, left)), rows, strict=False)]
                    left -= len(chunk)
                    lines.write("".join(map(_json_line, chunk)))
                    invalid += sum(int(r["complaint_id"][1:]) % 100 == 37 for r in chunk)
                    columns = {name: [r[name] for r in chunk] for name in SCHEMA.names}
                    columns["received_at"] = pa.array(columns["received_at"], pa.int64()).cast(SCHEMA.field("received_at").type)
                    writer.write_table(pa.table(columns, schema=SCHEMA))
    marker.write_text(json.dumps({"format": FORMAT, "count": count, "invalid": invalid}))
    print(f"wrote {count:,} complaints in {time.perf_counter() - started:.0f}s", flush=True)
    return Data(jsonl, parquet, count, invalid)


class _Memory:
    """Peak resident memory of Spark's Python workers (pyspark's daemon and the workers it forks) and of
    its JVM (local mode: driver and executor in one), sampled from /proc."""

    def __init__(self) -> None:
        self.worker_kib = self.jvm_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    if not any(b"pyspark" in part or b"org.apache.spark" in part for part in command):
                        continue
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
                if command[0].endswith(b"java"):
                    self.jvm_kib = max(self.jvm_kib, kib)
                elif any(b"pyspark" in part for part in command):
                    self.worker_kib = max(self.worker_kib, kib)


def run_spark(data: Data, out: Path, master: str) -> dict[str, Any]:
    from pyspark.sql import functions as F

    from gesture_engine.spark import decide_dataframe, session

    largest = max(p.stat().st_size for p in data.parquet.iterdir())
    started = time.perf_counter()
    spark = session(master, "gesture-benchmark", {"spark.sql.files.maxPartitionBytes": str(largest + 1), "spark.ui.showConsoleProgress": "false"})
    complaints = spark.read.parquet(str(data.parquet))
    # start-up: the JVM, the scheduler, and Python workers that have imported the engine and compiled the policy
    decide_dataframe(complaints.limit(2000).repartition(2)).write.format("noop").mode("overwrite").save()
    startup = time.perf_counter() - started
    partitions = complaints.rdd.getNumPartitions()
    with _Memory() as memory:
        started = time.perf_counter()
        decide_dataframe(complaints).write.parquet(str(out))
        seconds = time.perf_counter() - started
    written = spark.read.parquet(str(out))
    counts = written.agg(F.count(F.lit(1)).alias("rows"), F.count("error").alias("invalid")).first()
    sample = written.where("error is null").orderBy("complaint_id").limit(1000).collect()
    policy, wrong = load_policy(), 0
    for row in sample:
        complaint = {k: row[k] for k in SCHEMA.names if row[k] is not None}
        complaint["received_at"] = row["received_at"].astimezone().isoformat()
        expected = policy.decide(complaint)
        wrong += (row["action"], row["budget_amount"], row["decision_id"]) != (expected.action, expected.budget.amount, expected.decision_id)
    spark.stop()
    assert counts is not None
    return {"startup": startup, "seconds": seconds, "partitions": partitions, "rows": counts["rows"], "invalid": counts["invalid"],
            "worker_peak_mib": memory.worker_kib / 1024, "jvm_peak_mib": memory.jvm_kib / 1024, "checked": len(sample), "mismatches": wrong}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=10_000_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--data", default="/tmp/gesture-spark-bench", help="where the inputs are kept between runs (a folder per N)")
    parser.add_argument("--generate-only", action="store_true", help="write the inputs, time nothing")
    args = parser.parse_args()
    n = args.complaints
    data = prepare(Path(args.data) / str(n), n)
    sizes = data.jsonl.stat().st_size, sum(p.stat().st_size for p in data.parquet.iterdir())
    print(f"{n:,} complaints ({data.invalid:,} invalid): {sizes[0] / 1e6:,.0f} MB of JSON Lines, "
          f"{sizes[1] / 1e6:,.0f} MB of Parquet in {FILES} files")
    if args.generate_only:
        return
    cores = int(args.master[len("local["):-1]) if args.master.startswith("local[") and args.master[6:-1].isdigit() else 2
    out = Path(args.data) / f"decisions-{n}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    try:
        print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
        local = time_batch(data.jsonl, out / "decisions.jsonl", workers=2)
        assert local.lines == n and local.errors == data.invalid and local.mismatches == 0, local
        print(f"local batch: {local.seconds:.1f}s, load average {os.getloadavg()[0]:.1f}", flush=True)
        (out / "decisions.jsonl").unlink()
        spark = run_spark(data, out / "decisions.parquet", args.master)
        assert spark["rows"] == n and spark["invalid"] == data.invalid and spark["mismatches"] == 0, spark
        local_rate, spark_rate = n / local.seconds, n / spark["seconds"]
        print(f"{'':34} {'seconds':>8} {'decisions/s':>12} {'per core':>9}")
        print(f"{'gesture decide --batch --workers 2':34} {local.seconds:>8.1f} {local_rate:>12,.0f} {local_rate / 2:>9,.0f}")
        print(f"{'spark ' + args.master + ' parquet -> parquet':34} {spark['seconds']:>8.1f} {spark_rate:>12,.0f} {spark_rate / cores:>9,.0f}")
        ratio = (local_rate / 2) / (spark_rate / cores)
        print(f"spark start-up (not counted above): {spark['startup']:.1f}s; {spark['partitions']} partitions; "
              f"largest Python worker {spark['worker_peak_mib']:.0f} MiB, JVM {spark['jvm_peak_mib']:.0f} MiB")
        print(f"per core, spark takes {ratio:.2f}x the local batch's time (goal: at most 1.5x)")
        print(f"invalid rows: {data.invalid:,} on both sides; checked {spark['checked']} Spark decisions against policy.decide: "
              f"{spark['mismatches']} differ; load average after: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
