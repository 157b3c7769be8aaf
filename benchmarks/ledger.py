"""Decide-and-reserve through the goodwill ledger against a bare INSERT + SELECT transaction, same run.

    python -m benchmarks.ledger [--calls 4000] [--customers 1000] [--preload 0] [--processes 1] [--threads 1]
                                [--backends sqlite,postgresql] [--modes durable,fast] [--compare-busy]

Each backend in each durability mode: durable (the default: SQLite ``synchronous=full``, PostgreSQL
``synchronous_commit=on``) and fast (``?synchronous=normal``, ``?synchronous_commit=off``: a killed
process loses nothing, a power loss or a server crash may lose the last commits). PostgreSQL runs when
GESTURE_TEST_POSTGRES_URL is set (its tables are dropped first).

``--preload N`` starts SQLite from a ledger of N past events (N/2 issued reservations spread over the
customers and the last 365 days). It is built once, by bulk inserts in big transactions with the
indexes made afterwards, into a file cached under /tmp/gesture-ledger-bench, and copied before each run
so every run starts equal. PostgreSQL runs start empty.

``--processes P`` runs P client processes, each deciding calls/P complaints for random customers;
reservations/s is all calls over the wall time. The bare transaction, measured the same way (P
processes, the same connection settings and SQLite writer lock), sums one customer's rows by an index
and inserts one row: the least a reservation can cost; the overhead ratio is decide-and-reserve's p50
over it. ``--compare-busy`` adds SQLite rows without the writer lock (colliding writers left to SQLite's
sleep-and-retry busy handler, as before the lock) to compare with.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from gesture_engine import load_policy
from gesture_engine.ledger import SCHEMA_VERSION, Ledger
from gesture_engine.ledger.schema import events
from gesture_engine.ledger.store import _engine_for, _WriterLock

CACHE = Path("/tmp/gesture-ledger-bench")
MODES = {"durable": ("", "synchronous_commit=on"), "fast": ("synchronous=normal", "synchronous_commit=off")}
_PRELOAD_FORMAT = 1
"""Bump when the preloaded rows change, so an old cached file is not reused."""


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def preloaded(events_wanted: int, customers: int, cache: Path = CACHE) -> Path:
    """A SQLite ledger of ``events_wanted`` past events over ``customers`` customers, built once and cached."""
    path = cache / f"preload-v{SCHEMA_VERSION}.{_PRELOAD_FORMAT}-{events_wanted}-{customers}.db"
    if path.exists():
        return path
    cache.mkdir(exist_ok=True)
    building = path.with_suffix(".building")
    building.unlink(missing_ok=True)
    began = time.perf_counter()
    Ledger.migrate(f"sqlite:///{building}")
    engine = create_engine(f"sqlite:///{building}")
    with engine.begin() as connection:  # indexes are built once at the end: far faster than row by row
        for index in events.indexes:
            index.drop(connection)
    engine.dispose()
    _bulk_insert(building, events_wanted // 2, customers)
    engine = create_engine(f"sqlite:///{building}")
    with engine.begin() as connection:
        for index in sorted(events.indexes, key=lambda index: str(index.name)):
            index.create(connection)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # all in the file itself before it is renamed
    engine.dispose()
    building.rename(path)
    print(f"built {path} ({path.stat().st_size / 1e9:.1f} GB) in {time.perf_counter() - began:.0f} s")
    return path


def _bulk_insert(path: Path, reservations: int, customers: int) -> None:
    """Issued reservations (a reserved and an issued event each, 5.00 USD), oldest first, by raw DBAPI
    executemany in transactions of 250,000 reservations."""
    names = ["reservation_id", "kind", "customer_id", "complaint_id", "team", "currency", "amount_minor", "delta_minor",
             "reserved_at", "at", "expires_at", "decision_id", "policy_name", "policy_version", "policy_fingerprint", "rule",
             "gestures", "actor", "level", "detail"]
    insert = f"INSERT INTO ledger_events ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    now = int(time.time() * 1_000_000)
    span = 365 * 86_400_000_000
    detail = '{"approval_required":false,"imported":true,"levels":[]}'
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")  # a scratch file: rebuilt from scratch if the build dies
    chunk = 250_000
    for first in range(0, reservations, chunk):
        rows: list[tuple[Any, ...]] = []
        for i in range(first, min(first + chunk, reservations)):
            at = now - span + span * i // reservations
            reservation, customer, complaint = f"p{i:023d}", f"cust-{i % customers}", f"old-{i}"
            rows.append((reservation, "reserved", customer, complaint, "", "USD", 500, 500, at, at, at, "", "", "", "", "", "[]",
                         "import", None, detail))
            rows.append((reservation, "issued", customer, complaint, "", "USD", 500, 0, at, at, None, "", "", "", "", "", "[]",
                         "import", None, None))
        connection.execute("BEGIN")
        connection.executemany(insert, rows)
        connection.execute("COMMIT")
    connection.close()


def _sqlite_url(folder: str, name: str, mode: str, preload: Path | None) -> str:
    path = Path(folder) / f"{name}.db"
    if preload is not None:
        shutil.copyfile(preload, path)
    query = MODES[mode][0]
    return f"sqlite:///{path}" + (f"?{query}" if query else "")


def _postgres_url(base: str, mode: str) -> str:
    engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS ledger_events, ledger_schema, bench_bare"))
    engine.dispose()
    return base + ("&" if "?" in base else "?") + MODES[mode][1]


def _threaded(calls: int, threads: int, start: Any, setup: Any, call: Any) -> tuple[list[float], float]:
    """Run ``call(i)`` ``calls`` times, split over ``threads`` threads of this process that start together
    once every process is ready (``start``); latencies and wall time."""
    setup()
    start.wait()
    samples: list[float] = []

    def share(thread: int) -> None:
        for i in range(thread, calls, threads):
            before = time.perf_counter()
            call(i)
            samples.append(time.perf_counter() - before)  # list.append is atomic

    began = time.perf_counter()
    workers = [threading.Thread(target=share, args=(thread,)) for thread in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return samples, time.perf_counter() - began


def _decide_worker(url: str, worker: int, calls: int, customers: int, threads: int, busy: bool, start: Any) -> tuple[list[float], float]:
    """One client process: ``calls`` decide-and-reserve calls for random customers."""
    policy = load_policy()
    chooser = random.Random(worker)
    complaints = [{"complaint_id": f"b-{worker}-{i}", "customer_id": f"cust-{chooser.randrange(customers)}",
                   "severity": chooser.choice(["low", "medium", "high"]), "channel": "email"} for i in range(calls)]
    with Ledger.open(url) as ledger:
        if busy:
            ledger._writer = nullcontext()  # compare: colliding writers left to SQLite's busy handler

        def warm() -> None:
            ledger.decide(policy, {**complaints[0], "complaint_id": f"warm-{worker}"})

        return _threaded(calls, threads, start, warm, lambda i: ledger.decide(policy, complaints[i]))


def _bare_worker(url: str, worker: int, calls: int, customers: int, threads: int, busy: bool, start: Any) -> tuple[list[float], float]:
    """One client process of the bare INSERT + SELECT transaction, with the ledger's connection settings."""
    engine = _engine_for(url)
    database = engine.url.database
    lock: AbstractContextManager[object] = (nullcontext() if busy or engine.dialect.name != "sqlite" or not database
                                            else _WriterLock(f"{database}.lock"))
    chooser = random.Random(worker)
    customer_ids = [f"cust-{chooser.randrange(customers)}" for _ in range(calls)]
    select_sql = text("SELECT COALESCE(SUM(amount), 0) FROM bench_bare WHERE customer_id = :c AND at >= 0")
    insert_sql = text("INSERT INTO bench_bare (customer_id, amount, at) VALUES (:c, 100, :t)")

    def transaction(i: int) -> None:
        with lock, engine.begin() as connection:
            connection.execute(select_sql, {"c": customer_ids[i]})
            connection.execute(insert_sql, {"c": customer_ids[i], "t": i})

    try:
        return _threaded(calls, threads, start, lambda: transaction(0), transaction)
    finally:
        engine.dispose()


def _in_processes(worker: Any, url: str, calls: int, customers: int, processes: int, threads: int,
                  busy: bool) -> tuple[list[float], float]:
    """Run ``processes`` copies of ``worker`` at once (started together); all samples and calls per second."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Barrier(processes)
        with context.Pool(processes) as pool:
            results = pool.starmap(worker, [(url, w, calls // processes, customers, threads, busy, start) for w in range(processes)])
    samples = [sample for result, _ in results for sample in result]
    return samples, len(samples) / max(wall for _, wall in results)


def bench(url: str, calls: int, customers: int, processes: int, threads: int = 1, busy: bool = False) -> dict[str, float]:
    """Decide-and-reserve, then the bare transaction, on ``url``."""
    Ledger.migrate(url)
    samples, per_s = _in_processes(_decide_worker, url, calls, customers, processes, threads, busy)
    engine = _engine_for(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bench_bare"))
        connection.execute(text("CREATE TABLE bench_bare (id INTEGER PRIMARY KEY, customer_id VARCHAR(200), amount BIGINT, at BIGINT)"
                                if engine.dialect.name == "sqlite" else
                                "CREATE TABLE bench_bare (id BIGSERIAL PRIMARY KEY, customer_id VARCHAR(200), amount BIGINT, at BIGINT)"))
        connection.execute(text("CREATE INDEX ix_bench_bare ON bench_bare (customer_id, at, amount)"))
    engine.dispose()
    bare, bare_per_s = _in_processes(_bare_worker, url, calls, customers, processes, threads, busy)
    p50, p99 = percentiles(samples)
    b50, b99 = percentiles(bare)
    return {"per_s": per_s, "p50": p50, "p99": p99, "bare_per_s": bare_per_s, "bare_p50": b50, "bare_p99": b99, "ratio": p50 / b50}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000, help="decide-and-reserve calls in all (and as many bare transactions)")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--preload", type=int, default=0, help="past events in the SQLite ledger before the run")
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per client process (as the service's thread pool)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--modes", default="durable,fast", help="comma-separated: durable, fast")
    parser.add_argument("--compare-busy", action="store_true", help="SQLite also without the writer lock (the busy handler)")
    args = parser.parse_args()
    backends, modes = args.backends.split(","), args.modes.split(",")
    preload = preloaded(args.preload, args.customers) if args.preload and "sqlite" in backends else None
    postgres = os.environ.get("GESTURE_TEST_POSTGRES_URL")
    print(f"{args.calls} decide-and-reserve calls for random customers of {args.customers}, {args.processes} process(es) × {args.threads} thread(s); "
          f"SQLite preloaded with {args.preload} events")
    print(f"{'backend':34} {'reservations/s':>14} {'p50 ms':>7} {'p99 ms':>7} {'bare/s':>7} {'bare p50':>8} {'bare p99':>8} {'overhead':>8}")
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        runs: list[tuple[str, str, bool]] = []
        for mode in modes:
            if "sqlite" in backends:
                runs.append((f"sqlite {mode}", "sqlite", False))
                if args.compare_busy:
                    runs.append((f"sqlite {mode}, busy handler", "sqlite", True))
            if "postgresql" in backends and postgres:
                runs.append((f"postgresql {mode}", "postgresql", False))
        for name, backend, busy in runs:
            mode = name.split()[1].rstrip(",")
            url = _sqlite_url(folder, "ledger", mode, preload) if backend == "sqlite" else _postgres_url(postgres or "", mode)
            r = bench(url, args.calls, args.customers, args.processes, args.threads, busy)
            print(f"{name:34} {r['per_s']:>14,.0f} {r['p50']:>7.2f} {r['p99']:>7.2f} {r['bare_per_s']:>7,.0f} {r['bare_p50']:>8.2f} "
                  f"{r['bare_p99']:>8.2f} {r['ratio']:>7.1f}×", flush=True)
            if backend == "sqlite":
                for leftover in Path(folder).iterdir():
                    leftover.unlink()


if __name__ == "__main__":
    main()
