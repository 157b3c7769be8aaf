"""The goodwill ledger on SQLite (and PostgreSQL when GESTURE_TEST_POSTGRES_URL is set): decide-and-reserve,
idempotency, approve/issue/release, expiry, windows, team spend, export/import, and every refusal's code."""

from __future__ import annotations

import io
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from gesture_engine import ComplaintError, PolicyError, load_policy, loads_policy
from gesture_engine.errors import LedgerError
from gesture_engine.ledger import Ledger, decision_id
from gesture_engine.ledger.schema import SCHEMA_VERSION
from gesture_engine.ledger.store import history_query
from gesture_engine.ledger.transfer import export_events, read_import
from tests.ledger_support import LEDGER_POLICY, Clock, complaint, ledger_policy

POLICY = ledger_policy()


def event_count(ledger: Ledger) -> int:
    return sum(1 for _ in ledger.events())


def refused(code: str, call: object, *args: object, **kwargs: object) -> LedgerError:
    """Call and expect LedgerError ``code``."""
    with pytest.raises(LedgerError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    assert caught.value.code == code, caught.value
    return caught.value


# -- decide and reserve ---------------------------------------------------------------------------


def test_decide_fills_the_goodwill_fact_from_the_ledger_and_caps_at_the_window_limit(ledger: Ledger) -> None:
    first, reservation = ledger.decide(POLICY, complaint("c1"))
    assert (first.budget.amount, first.facts["given"]) == (Decimal("80.00"), Decimal("0.00"))
    assert (reservation.state, reservation.reserved, reservation.held, reservation.existing) == ("reserved", Decimal("80.00"),
                                                                                                  Decimal("80.00"), False)
    assert reservation.decision_id == decision_id(first)
    second, _ = ledger.decide(POLICY, complaint("c2"))
    assert second.facts["given"] == Decimal("80.00")
    assert second.budget.amount == Decimal("20.00")  # the window limit of 100 leaves 20
    third, _ = ledger.decide(POLICY, complaint("c3"))
    assert third.budget.amount == 0 and [g.id for g in third.gestures] == ["apology"]
    other, _ = ledger.decide(POLICY, complaint("c4", customer_id="cust-2"))
    assert other.budget.amount == Decimal("80.00")  # another customer's window is their own
    assert ledger.held("cust-1", "USD", 30) == Decimal("100.00")
    kinds = [e.kind for e in ledger.events("cust-1")]
    assert kinds == ["decided", "reserved"] * 3


def test_the_complaint_must_not_supply_the_history_fact_and_must_name_complaint_and_customer(ledger: Ledger) -> None:
    with pytest.raises(ComplaintError) as caught:
        ledger.decide(POLICY, {**complaint("c1"), "given": 0})
    assert [(p.field, p.code) for p in caught.value.problems] == [("given", "history_fact_supplied")]
    with pytest.raises(ComplaintError) as caught:
        ledger.decide(POLICY, {"severity": "high"})
    assert [(p.field, p.code) for p in caught.value.problems] == [("complaint_id", "required"), ("customer_id", "required")]
    with pytest.raises(ComplaintError) as caught:
        ledger.decide(POLICY, {**complaint("c1"), "severity": "extreme"})  # the policy's own check, before any write
    assert [p.field for p in caught.value.problems] == ["severity"]
    assert event_count(ledger) == 0


def test_deciding_a_complaint_id_again_returns_its_reservation_unless_redecided(ledger: Ledger) -> None:
    decision, reservation = ledger.decide(POLICY, complaint("c1"))
    again, same = ledger.decide(POLICY, complaint("c1", severity="low"))  # an idempotency key: the content is not decided again
    with pytest.raises(ComplaintError):  # but it is checked: a bad complaint is refused whatever its id
        ledger.decide(POLICY, complaint("c1", severity="extreme"))
    assert same.existing and same.reservation_id == reservation.reservation_id
    assert again.model_dump_json() == decision.model_dump_json()
    assert event_count(ledger) == 2
    redecided, fresh = ledger.decide(POLICY, complaint("c1", severity="low"), redecide=True)
    assert fresh.reservation_id != reservation.reservation_id and not fresh.existing
    assert redecided.budget.amount == Decimal("10.00")
    assert ledger.reservation(reservation.reservation_id).state == "released"
    assert ledger.held("cust-1", "USD", 30) == Decimal("10.00")
    refused("complaint_id_reused", ledger.decide, POLICY, complaint("c1", customer_id="cust-2"))


def test_a_policy_with_goodwill_needs_a_window_to_decide_through_a_ledger(ledger: Ledger) -> None:
    windowless = loads_policy(LEDGER_POLICY.replace(", window_days: 30", ""))
    refused("policy_window_missing", ledger.decide, windowless, complaint("c1"))
    no_goodwill = loads_policy(LEDGER_POLICY.replace("goodwill:", "#goodwill:").replace("  given: {type: money, default: 0}\n", ""))
    _, reservation = ledger.decide(no_goodwill, complaint("c1"))
    assert reservation.reserved == Decimal("80.00")


def test_window_days_and_reservation_ttl_are_checked_and_compiled() -> None:
    assert (POLICY.compiled.goodwill_window_days, POLICY.compiled.reservation_ttl) == (30, 2 * 86400)
    assert (load_policy().compiled.goodwill_window_days, load_policy().compiled.reservation_ttl) == (90, 7 * 86400)
    with pytest.raises(PolicyError) as caught:
        loads_policy(LEDGER_POLICY.replace("window_days: 30", "window_days: 0").replace("reservation_ttl: 2d", "reservation_ttl: soon"))
    assert sorted((p.path, p.code) for p in caught.value.problems) == [("goodwill.reservation_ttl", "pattern"), ("goodwill.window_days", "range")]


# -- approve, issue, release ----------------------------------------------------------------------


def test_issue_needs_the_approval_the_decision_asks_for(ledger: Ledger) -> None:
    _, reservation = ledger.decide(POLICY, complaint("c1"))  # 80.00: manager
    assert (reservation.approval_level, reservation.approval_required) == ("manager", True)
    rid = reservation.reservation_id
    before = event_count(ledger)
    refused("approval_required", ledger.issue, rid)
    refused("level_too_low", ledger.approve, rid, "lee", "lead")
    refused("unknown_level", ledger.approve, rid, "lee", "boss")
    refused("actor_required", ledger.approve, rid, "", "manager")
    assert event_count(ledger) == before
    approved = ledger.approve(rid, "mia", "manager")
    assert (approved.state, approved.approvals) == ("approved", (("mia", "manager"),))
    issued = ledger.issue(rid, "55.50", actor="mia")
    assert (issued.state, issued.issued, issued.held) == ("issued", Decimal("55.50"), Decimal("55.50"))
    assert ledger.held("cust-1", "USD", 30) == Decimal("55.50")  # the rest went back to the window


def test_an_agent_level_reservation_issues_without_approval(ledger: Ledger) -> None:
    _, reservation = ledger.decide(POLICY, complaint("c1", severity="low"))  # 10.00: agent
    assert not reservation.approval_required
    assert ledger.issue(reservation.reservation_id).issued == Decimal("10.00")


@pytest.mark.parametrize(("amount", "kwargs", "code"), [
    ("80.01", {}, "exceeds_reservation"),
    ("-1", {}, "negative_amount"),
    ("10", {"currency": "EUR"}, "currency_mismatch"),
    ("1.005", {}, "invalid_amount"),
    ("lots", {}, "invalid_amount"),
])
def test_bad_issues_are_refused_with_their_code_and_change_nothing(ledger: Ledger, amount: str, kwargs: dict[str, str], code: str) -> None:
    _, reservation = ledger.decide(POLICY, complaint("c1"))
    ledger.approve(reservation.reservation_id, "mia", "manager")
    before = [e.to_dict() for e in ledger.events()]
    error = refused(code, ledger.issue, reservation.reservation_id, amount, **kwargs)
    assert error.reservation_id == reservation.reservation_id
    assert [e.to_dict() for e in ledger.events()] == before


def test_issuing_twice_releasing_after_issue_and_unknown_ids_are_refused(ledger: Ledger) -> None:
    _, reservation = ledger.decide(POLICY, complaint("c1", severity="low"))
    rid = reservation.reservation_id
    ledger.issue(rid, 5)
    before = event_count(ledger)
    refused("already_issued", ledger.issue, rid, 1)
    refused("already_issued", ledger.release, rid)
    refused("already_issued", ledger.approve, rid, "mia", "manager")
    for call in (ledger.issue, ledger.release, ledger.reservation):
        refused("unknown_reservation", call, "r-nope")
    assert event_count(ledger) == before
    _, other = ledger.decide(POLICY, complaint("c2", severity="low"))
    assert ledger.release(other.reservation_id, actor="ann").state == "released"
    refused("reservation_closed", ledger.issue, other.reservation_id)
    refused("reservation_closed", ledger.release, other.reservation_id)


# -- time: expiry and windows ---------------------------------------------------------------------


def test_reservations_expire_after_the_policy_ttl_lazily_or_by_expire(ledger: Ledger, clock: Clock) -> None:
    _, first = ledger.decide(POLICY, complaint("c1"))
    _, second = ledger.decide(POLICY, complaint("c2", customer_id="cust-2"))
    assert first.expires_at == clock.now.replace(day=12)  # reservation_ttl: 2d
    clock.advance(days=2)
    decision, _ = ledger.decide(POLICY, complaint("c3"))  # reading cust-1's history expires c1 first
    assert decision.facts["given"] == Decimal("0.00") and decision.budget.amount == Decimal("80.00")
    assert ledger.reservation(first.reservation_id).state == "expired"
    assert [e.kind for e in ledger.events("cust-2")] == ["decided", "reserved"]  # nobody read cust-2 yet
    assert ledger.expire() == 1
    assert ledger.expire() == 0
    assert ledger.reservation(second.reservation_id).state == "expired"
    refused("reservation_closed", ledger.issue, second.reservation_id)


def test_goodwill_older_than_the_window_no_longer_counts(ledger: Ledger, clock: Clock) -> None:
    _, reservation = ledger.decide(POLICY, complaint("c1"))
    ledger.approve(reservation.reservation_id, "mia", "manager")
    ledger.issue(reservation.reservation_id)
    clock.advance(days=29, hours=23)
    assert ledger.decide(POLICY, complaint("c2"))[0].budget.amount == Decimal("20.00")
    clock.advance(days=30)
    assert ledger.decide(POLICY, complaint("c3"))[0].facts["given"] == Decimal("0.00")


def test_team_spend_counts_what_teams_hold_per_calendar_month(url: str) -> None:
    clock = Clock()
    with Ledger.open(url, clock=clock, tz="America/New_York") as ledger:
        ledger.decide(POLICY, complaint("c1", "a"), team="north")
        ledger.decide(POLICY, complaint("c2", "b", "medium"), team="north")
        _, released = ledger.decide(POLICY, complaint("c3", "c"), team="south")
        ledger.release(released.reservation_id)
        ledger.decide(POLICY, complaint("c4", "d", "low"))
        assert ledger.spend(period="2026-12") == [("", "USD", Decimal("10.00")), ("north", "USD", Decimal("120.00")),
                                                   ("south", "USD", Decimal("0.00"))]
        assert ledger.spend("north") == [("north", "USD", Decimal("120.00"))]  # this month, by the clock
        assert ledger.spend("north", "2026-11") == []
        clock.now = clock.now.replace(day=1, hour=4)  # 23:00 on 30 November in New York
        ledger.decide(POLICY, complaint("c5", "e", "low"), team="west")
        assert ledger.spend("west", "2026-11") == [("west", "USD", Decimal("10.00"))]
        refused("bad_period", ledger.spend, "west", "2026-13")


# -- decision ids ----------------------------------------------------------------------------------


def test_decision_ids_are_deterministic_and_follow_the_facts() -> None:
    policy = load_policy()
    base = {"severity": "high", "channel": "email", "customer_value": 800, "complaint_id": "T-1", "customer_id": "C-1"}
    same = decision_id(policy.decide(base))
    assert same == decision_id(policy.decide(dict(base))) and len(same) == 32
    assert decision_id(policy.decide({**base, "customer_value": "800.00"})) == same  # the same amount
    assert decision_id(policy.decide({**base, "customer_value": 801})) != same
    assert decision_id(policy.decide({**base, "complaint_id": "T-2"})) != same
    timed = decision_id(policy.decide({**base, "received_at": "2026-12-01T10:00:00+01:00"}))
    assert timed == decision_id(policy.decide({**base, "received_at": "2026-12-01T09:00:00Z"})) != same
    assert decision_id(ledger_policy().decide({"severity": "high"})) != decision_id(loads_policy(
        LEDGER_POLICY.replace("budget: 80", "budget: 81")).decide({"severity": "high"}))  # another policy


# -- opening ---------------------------------------------------------------------------------------


def test_opening_refuses_bad_urls_unreachable_databases_and_newer_schemas(tmp_path: Path) -> None:
    refused("bad_url", Ledger.open, "mysql://localhost/goodwill")
    refused("bad_url", Ledger.open, "sqlite://")
    refused("bad_url", Ledger.open, f"sqlite:///{tmp_path}/g.db?synchronous=sometimes")
    refused("bad_url", Ledger.open, "postgresql://nobody@127.0.0.1:1/none?synchronous_commit=maybe")
    refused("bad_url", Ledger.open, "not a url")
    refused("unreachable", Ledger.open, f"sqlite:///{tmp_path}/missing/dir/goodwill.db")
    refused("unreachable", Ledger.open, "postgresql://nobody@127.0.0.1:1/none")
    refused("bad_option", Ledger.open, f"sqlite:///{tmp_path}/g.db", tz="Mars/Olympus")
    path = tmp_path / "newer.db"
    Ledger.open(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE ledger_schema SET version = ?", (SCHEMA_VERSION + 1,))
    refused("schema_too_new", Ledger.open, f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version FROM ledger_schema").fetchall() == [(SCHEMA_VERSION + 1,)]


def test_migrate_creates_the_schema_and_is_repeatable(url: str) -> None:
    assert Ledger.migrate(url) == SCHEMA_VERSION
    assert Ledger.migrate(url) == SCHEMA_VERSION
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version FROM ledger_schema")).all() == [(SCHEMA_VERSION,)]
    engine.dispose()


def test_history_lookups_use_the_customer_index(tmp_path: Path) -> None:
    path = tmp_path / "plan.db"
    Ledger.open(f"sqlite:///{path}").close()
    engine = create_engine(f"sqlite:///{path}")
    query = history_query("cust-1", "USD", 0).compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        plan = " ".join(str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {query}")))
    engine.dispose()
    assert "USING COVERING INDEX ix_ledger_events_customer" in plan, plan


def test_decides_read_uses_indexes_only(tmp_path: Path) -> None:
    """decide's one read (latest reservation, due expiries, team spend, history facts) searches indexes, never scans the events."""
    path = tmp_path / "plan.db"
    with Ledger.open(f"sqlite:///{path}") as ledger:
        statement = ledger._sql.state(tuple(POLICY.compiled.history.values()))
    given = {"complaint_id": "c1", "customer_id": "cust-1", "currency": "USD", "now": 0, "team": "north", "month_start": 0, "month_end": 1,
             "since": 0, "since_0": 0}
    with sqlite3.connect(path) as connection:
        plan = [str(row[-1]) for row in connection.execute(f"EXPLAIN QUERY PLAN {statement.sql}", statement.parameters(given))]
    searches = [step for step in plan if "ledger_events" in step or "closing" in step]
    assert len(searches) == 5 and all(step.startswith("SEARCH") and "USING" in step and "INDEX" in step for step in searches), plan
    assert any("COVERING INDEX ix_ledger_events_customer" in step for step in searches), plan


def test_sqlite_writers_queue_on_the_lock_file_beside_the_database(tmp_path: Path) -> None:
    """A write waits, blocked in the kernel, while another holds the lock file; it goes on once that one lets go."""
    import fcntl
    import threading

    path = tmp_path / "goodwill.db"
    with Ledger.open(f"sqlite:///{path}") as ledger:
        ledger.decide(POLICY, complaint("c1"))
        holder = open(f"{path}.lock", "w")  # noqa: SIM115 - held across the thread's attempt
        fcntl.flock(holder, fcntl.LOCK_EX)
        writer = threading.Thread(target=ledger.decide, args=(POLICY, complaint("c2")))
        writer.start()
        writer.join(0.5)
        waited = writer.is_alive()
        count_while_held = event_count(ledger)
        fcntl.flock(holder, fcntl.LOCK_UN)
        holder.close()
        writer.join()
        assert waited and count_while_held == 2
        assert event_count(ledger) == 4


def test_a_connection_that_failed_is_dropped_and_the_next_decide_connects_afresh(ledger: Ledger, url: str) -> None:
    """decide keeps a connection of its own per thread: once it fails (PostgreSQL: its server process ended, as by a
    server restart; SQLite: closed under it) the call is refused, nothing written, and the next call connects again."""
    ledger.decide(POLICY, complaint("c1"))
    own = ledger._own.get()
    if ledger.dialect == "postgresql":
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": own.connection.info.backend_pid})
        engine.dispose()
    else:
        own.connection.close()
    refused("unavailable", ledger.decide, POLICY, complaint("c2"))
    assert event_count(ledger) == 2
    _, reservation = ledger.decide(POLICY, complaint("c2"))
    assert not reservation.existing and event_count(ledger) == 4


def test_a_threads_decide_connection_closes_when_the_thread_ends(ledger: Ledger) -> None:
    """decide's connection of its own goes with its thread (a service's idle pool threads end): none is left open."""
    import gc
    import threading

    used: list[Any] = []

    def work() -> None:
        ledger.decide(POLICY, complaint("c1"))
        used.append(ledger._own.get().connection)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    gc.collect()
    (connection,) = used
    if ledger.dialect == "postgresql":
        assert connection.closed
    else:
        with pytest.raises(sqlite3.ProgrammingError):
            connection.execute("SELECT 1")
    assert event_count(ledger) == 2


def test_threads_get_the_writer_lock_in_the_order_they_asked() -> None:
    import threading

    from gesture_engine.ledger.store import _Turns

    turns, order = _Turns(), []
    turns.acquire()

    def writer(n: int) -> None:
        turns.acquire()
        order.append(n)
        turns.release()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(5)]
    for n, thread in enumerate(threads):
        thread.start()
        while len(turns._waiting) < n + 1:  # wait until this one is in line before the next asks
            threading.Event().wait(0.001)
    turns.release()
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3, 4]


# -- history, export, import -------------------------------------------------------------------------


def test_history_lists_every_reservation_of_a_customer(ledger: Ledger) -> None:
    _, first = ledger.decide(POLICY, complaint("c1", severity="low"))
    ledger.issue(first.reservation_id, "7.5")
    ledger.decide(POLICY, complaint("c2", severity="medium"))
    history = ledger.history("cust-1")
    assert [(r.complaint_id, r.state, r.held) for r in history] == [("c1", "issued", Decimal("7.50")), ("c2", "reserved", Decimal("40.00"))]
    assert ledger.history("nobody") == []


def test_imported_history_counts_in_the_window(ledger: Ledger, clock: Clock) -> None:
    rows = read_import("customer_id,amount,currency,at,complaint_id,team,gestures,note\n"
                       "cust-1,60,USD,2026-12-01,old-1,north,credit apology,phone call\n"
                       "cust-1,500,USD,2026-10-01T09:00:00Z,,,,too old to count\n")
    assert ledger.import_rows(rows) == 2
    decision, _ = ledger.decide(POLICY, complaint("c1"))
    assert decision.facts["given"] == Decimal("60.00") and decision.budget.amount == Decimal("40.00")
    assert [r.state for r in ledger.history("cust-1")] == ["issued", "issued", "reserved"]
    refused("already_imported", ledger.import_rows, rows)
    out = io.StringIO()
    assert export_events(ledger.events(), out, "csv") == 6
    assert out.getvalue().splitlines()[0].startswith("id,reservation_id,kind,customer_id")
    out = io.StringIO()
    assert export_events(ledger.events(), out, "jsonl") == 6
    assert '"kind":"issued"' in out.getvalue().splitlines()[1]


@pytest.mark.parametrize(("csv_text", "line"), [
    ("customer_id,amount,currency\nc,1,USD\n", 1),
    ("customer_id,amount,currency,at,colour\nc,1,USD,2026-12-01,red\n", 1),
    ("customer_id,amount,currency,at\nc,1,USD,2026-12-01\nc,-1,USD,2026-12-01\n", 3),
    ("customer_id,amount,currency,at\nc,1.001,USD,2026-12-01\n", 2),
    ("customer_id,amount,currency,at\nc,1,XYZ,2026-12-01\n", 2),
    ("customer_id,amount,currency,at\nc,1,USD,yesterday\n", 2),
    ("customer_id,amount,currency,at\nc,1,USD,2026-12-01T10:00:00\n", 2),
    ("customer_id,amount,currency,at\n,1,USD,2026-12-01\n", 2),
    ("customer_id,amount,currency,at\nc,1,USD,2026-12-01,extra\n", 2),
])
def test_bad_import_files_name_the_line(csv_text: str, line: int) -> None:
    error = refused("bad_import", read_import, csv_text)
    assert error.line == line


TEAM_POLICY = loads_policy(LEDGER_POLICY.replace("rules:", "teams: {monthly_limit: 100, limits: {vip: 1000}}\nrules:"), name="teams.yaml")


def test_a_team_never_reserves_more_than_its_monthly_limit(ledger: Ledger) -> None:
    """100 a month for support: 80, then 20 (cut, and the decision says why), then nothing."""
    amounts = []
    for i in range(3):
        decision, reservation = ledger.decide(TEAM_POLICY, complaint(f"t{i}", customer_id=f"c{i}"), team="support")
        amounts.append(reservation.reserved)
    assert amounts == [Decimal("80.00"), Decimal("20.00"), Decimal("0.00")]
    assert decision.budget.steps[-1].text == "reduced to 0.00 (team support has 0.00 left of 100 in 2026-12)"
    _, vip = ledger.decide(TEAM_POLICY, complaint("t9", customer_id="c9"), team="vip")
    assert vip.reserved == Decimal("80.00")  # its own limit
    assert [(team, amount) for team, _, amount in ledger.spend()] == [("support", Decimal("100.00")), ("vip", Decimal("80.00"))]
