"""Spark against the local batch on the same complaints, same run.

    python -m benchmarks.spark [--complaints 1000000] [--master local[2]] [--keep DIR]

Writes N default-policy complaints as JSON Lines (``benchmarks.batch.write_complaints``) and the same
complaints as Parquet (money as decimal(14,2), the time as a timestamp), then times, in this order:
``gesture decide --batch --workers 2`` on the JSON Lines (a fresh process, wall clock), Spark's
start-up (a new local session), and ``gesture_engine.spark.decide_dataframe`` from the Parquet to a
Parquet directory of decisions (every decision column written). Rates are per core: complaints a
second divided by the cores each side had (2 workers; local[2]). Spark's start-up is its session and a
first small job (Python workers started, the engine imported, the policy compiled). While Spark decides, the resident
memory of its Python workers is sampled from /proc: the largest is what one executor process needs.
The first 1,000 Spark decisions are checked against ``policy.decide``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gesture_engine import load_policy

from .batch import time_batch, write_complaints

SCHEMA = pa.schema([
    ("complaint_id", pa.string()), ("customer_id", pa.int64()), ("received_at", pa.timestamp("us", tz="UTC")),
    ("severity", pa.string()), ("channel", pa.string()), ("audience", pa.int64()), ("issue_type", pa.string()),
    ("customer_value", pa.decimal128(14, 2)), ("order_value", pa.decimal128(14, 2)), ("goodwill_last_90d", pa.decimal128(14, 2)),
])
FILES = 8
"""Parquet files the complaints are split into (Spark packs them into as many partitions as it needs)."""


def write_parquet(jsonl: Path, target: Path, count: int) -> None:
    """The JSON Lines complaints as FILES Parquet files under ``target``, typed as a warehouse holds them."""
    from datetime import datetime

    target.mkdir()
    per_file = -(-count // FILES)
    with jsonl.open("rb") as lines:
        for part in range(FILES):
            rows = []
            for line in lines:
                row = json.loads(line, parse_float=Decimal)
                row["received_at"] = datetime.fromisoformat(row["received_at"].replace("Z", "+00:00"))
                rows.append(row)
                if len(rows) == per_file:
                    break
            pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), target / f"part-{part:02d}.parquet")


class _WorkerMemory:
    """Samples the resident memory of Spark's Python workers (processes running pyspark's daemon or worker)."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                    if b"pyspark" not in command or b"java" in command.split(b"\0")[0]:
                        continue
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))


def run_spark(parquet: Path, out: Path, master: str) -> dict[str, Any]:
    from gesture_engine.spark import decide_dataframe, session

    started = time.perf_counter()
    spark = session(master, "gesture-benchmark")
    complaints = spark.read.parquet(str(parquet))
    # start-up: the JVM, the scheduler, and Python workers that have imported the engine and compiled the policy
    decide_dataframe(complaints.limit(2000).repartition(2)).write.format("noop").mode("overwrite").save()
    startup = time.perf_counter() - started
    partitions = complaints.rdd.getNumPartitions()
    with _WorkerMemory() as memory:
        started = time.perf_counter()
        decide_dataframe(complaints).write.parquet(str(out))
        seconds = time.perf_counter() - started
    sample = spark.read.parquet(str(out)).orderBy("complaint_id").limit(1000).collect()
    policy, wrong = load_policy(), 0
    for row in sample:
        complaint = {k: row[k] for k in SCHEMA.names if row[k] is not None}
        complaint["customer_id"] = int(complaint["customer_id"])
        complaint["received_at"] = row["received_at"].astimezone().isoformat()
        expected = policy.decide(complaint)
        wrong += (row["action"], row["budget_amount"], row["decision_id"]) != (expected.action, expected.budget.amount, expected.decision_id)
    spark.stop()
    return {"startup": startup, "seconds": seconds, "partitions": partitions, "worker_peak_mib": memory.peak_kib / 1024,
            "checked": len(sample), "mismatches": wrong}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep the files (default: a temporary directory, removed)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gesture-spark-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    cores = int(args.master[len("local["):-1]) if args.master.startswith("local[") and args.master[6:-1].isdigit() else 2
    try:
        n = args.complaints
        jsonl, parquet = folder / "complaints.jsonl", folder / "complaints.parquet"
        started = time.perf_counter()
        size = write_complaints(jsonl, n)
        write_parquet(jsonl, parquet, n)
        print(f"{n:,} complaints: {size / 1e6:.0f} MB of JSON Lines, {sum(p.stat().st_size for p in parquet.iterdir()) / 1e6:.0f} MB of Parquet "
              f"({time.perf_counter() - started:.0f}s to write)")
        local = time_batch(jsonl, folder / "decisions.jsonl", workers=2)
        assert local.lines == n and local.mismatches == 0, local
        spark = run_spark(parquet, folder / "decisions.parquet", args.master)
        assert spark["mismatches"] == 0, spark
        local_rate, spark_rate = n / local.seconds, n / spark["seconds"]
        print(f"{'':34} {'seconds':>8} {'decisions/s':>12} {'per core':>9}")
        print(f"{'gesture decide --batch --workers 2':34} {local.seconds:>8.1f} {local_rate:>12,.0f} {local_rate / 2:>9,.0f}")
        print(f"{'spark ' + args.master + ' parquet -> parquet':34} {spark['seconds']:>8.1f} {spark_rate:>12,.0f} {spark_rate / cores:>9,.0f}")
        ratio = (local_rate / 2) / (spark_rate / cores)
        print(f"spark start-up (not counted above): {spark['startup']:.1f}s; {spark['partitions']} partitions; "
              f"largest Python worker {spark['worker_peak_mib']:.0f} MiB; per core, local is {ratio:.2f}× spark")
        print(f"checked {spark['checked']} Spark decisions against policy.decide: {spark['mismatches']} differ")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
