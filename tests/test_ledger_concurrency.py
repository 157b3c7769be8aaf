"""Many writers at once: 8 processes deciding for 20 customers near their goodwill limits never together
exceed a limit, and nothing is lost or doubled; a writer killed with SIGKILL loses nothing it committed
and leaves no partial entry. On SQLite, and on PostgreSQL when GESTURE_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from gesture_engine.ledger import Ledger
from gesture_engine.ledger.transfer import read_import
from tests.ledger_support import decide_many

ROOT = Path(__file__).resolve().parent.parent
PROCESSES, CALLS, CUSTOMERS = 8, 50, 20
LIMIT = Decimal(100)  # the test policy's goodwill.window_limit


def test_concurrent_decisions_never_exceed_a_customers_window_limit(url: str) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    history = "customer_id,amount,currency,at\n" + "".join(f"cust-{i},{60 + i},USD,{yesterday}\n" for i in range(CUSTOMERS))
    with Ledger.open(url) as ledger:
        ledger.import_rows(read_import(history))  # every customer starts 60-79 into a limit of 100
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        made = pool.starmap(decide_many, [(url, worker, CALLS, CUSTOMERS, 15) for worker in range(PROCESSES)])
    assert sum(made) == PROCESSES * CALLS
    with Ledger.open(url) as ledger:
        kinds = Counter(entry.kind for entry in ledger.events())
        assert kinds == {"decided": PROCESSES * CALLS, "reserved": PROCESSES * CALLS + CUSTOMERS, "issued": CUSTOMERS}
        complaints = Counter(entry.complaint_id for entry in ledger.events() if entry.kind == "decided")
        assert len(complaints) == PROCESSES * CALLS and set(complaints.values()) == {1}
        for i in range(CUSTOMERS):
            held = ledger.held(f"cust-{i}", "USD", 30)
            assert held <= LIMIT, (i, held)
            assert held == sum((r.held for r in ledger.history(f"cust-{i}")), Decimal(0))
        # the limits were reached: the test ran near them, not under them
        assert sum(ledger.held(f"cust-{i}", "USD", 30) == LIMIT for i in range(CUSTOMERS)) >= CUSTOMERS // 2


@pytest.mark.parametrize("fast", [False, True], ids=["durable", "fast"])
def test_a_writer_killed_mid_transaction_loses_nothing_committed(url: str, fast: bool) -> None:
    if fast:  # the fast mode's trade is a power loss or a server crash, never a killed client
        url += "?synchronous=normal" if url.startswith("sqlite") else "?synchronous_commit=off"
    Ledger.migrate(url)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "cli")])}
    writer = subprocess.Popen([sys.executable, "-m", "tests.ledger_writer", url], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    committed = [writer.stdout.readline().strip() for _ in range(40)]
    os.kill(writer.pid, signal.SIGKILL)
    committed += [line.strip() for line in writer.stdout]  # anything it printed before dying was committed too
    writer.wait()
    assert writer.returncode == -signal.SIGKILL
    with Ledger.open(url) as ledger:
        by_reservation: dict[str, list[str]] = {}
        for entry in ledger.events():
            by_reservation.setdefault(entry.reservation_id, []).append(entry.kind)
    assert set(committed) <= set(by_reservation)
    assert all(kinds == ["decided", "reserved"] for kinds in by_reservation.values())  # no partial entry
    assert len(by_reservation) - len(committed) <= 1  # at most the one committed as it died, before it could say so
