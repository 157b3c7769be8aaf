"""The ledger benchmark's preload builds what it says: N events over the customers, every index of the
schema, issued reservations the ledger reads like its own. No timing is asserted here."""

from __future__ import annotations

import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the benchmarks package lives at the repository root, beside tests/
    sys.path.insert(0, str(ROOT))

from benchmarks.ledger import preloaded  # noqa: E402
from gesture_engine import load_policy  # noqa: E402
from gesture_engine.ledger import Ledger  # noqa: E402
from gesture_engine.ledger.schema import events  # noqa: E402


def test_the_preload_is_a_ledger_of_n_issued_events_with_every_index(tmp_path: Path) -> None:
    path = preloaded(2_000, 100, cache=tmp_path)
    assert preloaded(2_000, 100, cache=tmp_path) == path  # built once, then reused
    with sqlite3.connect(path) as connection:
        kinds = dict(connection.execute("SELECT kind, count(*) FROM ledger_events GROUP BY kind").fetchall())
        customers = connection.execute("SELECT count(DISTINCT customer_id) FROM ledger_events").fetchone()[0]
        indexes = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%'")}
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert kinds == {"reserved": 1_000, "issued": 1_000} and customers == 100
    assert indexes == {index.name for index in events.indexes}
    with Ledger.open(f"sqlite:///{path}") as ledger:
        held = ledger.held("cust-7", "USD", 90)
        assert held > 0 and held % Decimal("5.00") == 0  # 5.00 per issued reservation made in the last 90 days
        history = ledger.history("cust-7")
        assert len(history) == 10 and {r.state for r in history} == {"issued"}
        _, reservation = ledger.decide(load_policy(), {"complaint_id": "new-1", "customer_id": "cust-7", "severity": "low",
                                                       "channel": "email"})
        assert not reservation.existing
