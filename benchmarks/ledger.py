"""Decide-and-reserve through the goodwill ledger against a bare INSERT + SELECT transaction, same run.

    python -m benchmarks.ledger [--calls 2000] [--customers 1000] [--preload 0]

SQLite (FULL and NORMAL sync) always; PostgreSQL too when GESTURE_TEST_POSTGRES_URL is set (its tables
are dropped first). One process. ``--preload N`` first imports N past events' worth of history (N/2
issued reservations) spread over the customers, so lookups run on a large table. The bare transaction
inserts one row into a table of the same shape and sums one customer's rows by its index: the least a
reservation can cost; the overhead ratio is decide-and-reserve's p50 over it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import create_engine, text

from gesture_engine import load_policy
from gesture_engine.ledger import Ledger
from gesture_engine.ledger.store import _engine_for


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def _preload(ledger: Ledger, customers: int, events: int) -> None:
    start = datetime.now(UTC) - timedelta(days=200)
    rows = [{"line": i, "reservation_id": f"p{i:023d}", "customer_id": f"cust-{i % customers}", "complaint_id": f"old-{i}", "team": "",
             "currency": "USD", "amount": Decimal("5.00"), "at": start + timedelta(seconds=i), "gestures": [], "note": ""}
            for i in range(events // 2)]
    for chunk in range(0, len(rows), 50_000):
        ledger.import_rows(rows[chunk:chunk + 50_000])


def bench(url: str, calls: int, customers: int, preload: int) -> dict[str, float]:
    policy = load_policy()
    with Ledger.open(url) as ledger:
        if preload:
            _preload(ledger, customers, preload)
        samples = []
        for i in range(calls):
            complaint = {"complaint_id": f"b-{i}", "customer_id": f"cust-{i % customers}", "severity": "medium", "channel": "email"}
            began = time.perf_counter()
            ledger.decide(policy, complaint)
            samples.append(time.perf_counter() - began)
    bare = _bare(url, calls, customers)
    p50, p99 = _percentiles(samples)
    b50, b99 = _percentiles(bare)
    return {"per_s": calls / sum(samples), "p50": p50, "p99": p99, "bare_p50": b50, "bare_p99": b99, "ratio": p50 / b50}


def _bare(url: str, calls: int, customers: int) -> list[float]:
    engine = _engine_for(url)  # the same connection settings (SQLite: WAL, sync, BEGIN IMMEDIATE)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bench_bare"))
        connection.execute(text("CREATE TABLE bench_bare (id INTEGER PRIMARY KEY, customer_id VARCHAR(200), amount BIGINT, at BIGINT)"
                                if engine.dialect.name == "sqlite" else
                                "CREATE TABLE bench_bare (id BIGSERIAL PRIMARY KEY, customer_id VARCHAR(200), amount BIGINT, at BIGINT)"))
        connection.execute(text("CREATE INDEX ix_bench_bare ON bench_bare (customer_id, at, amount)"))
    samples = []
    for i in range(calls):
        began = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text("SELECT COALESCE(SUM(amount), 0) FROM bench_bare WHERE customer_id = :c AND at >= 0"),
                               {"c": f"cust-{i % customers}"})
            connection.execute(text("INSERT INTO bench_bare (customer_id, amount, at) VALUES (:c, 100, :t)"), {"c": f"cust-{i % customers}", "t": i})
        samples.append(time.perf_counter() - began)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE bench_bare"))
    engine.dispose()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--preload", type=int, default=0, help="past events to import first")
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    targets = [("sqlite (synchronous=full)", f"sqlite:///{folder}/full.db"), ("sqlite (synchronous=normal)", f"sqlite:///{folder}/normal.db?synchronous=normal")]
    postgres = os.environ.get("GESTURE_TEST_POSTGRES_URL")
    if postgres:
        engine = create_engine(postgres.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS ledger_events, ledger_schema"))
        engine.dispose()
        targets.append(("postgresql", postgres))
    print(f"{args.calls} decide-and-reserve calls over {args.customers} customers, {args.preload} events preloaded, one process")
    print(f"{'backend':28} {'reservations/s':>14} {'p50 ms':>8} {'p99 ms':>8} {'bare p50':>9} {'bare p99':>9} {'overhead':>9}")
    for name, url in targets:
        r = bench(url, args.calls, args.customers, args.preload)
        print(f"{name:28} {r['per_s']:>14,.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['bare_p50']:>9.2f} {r['bare_p99']:>9.2f} {r['ratio']:>8.1f}×")


if __name__ == "__main__":
    main()
