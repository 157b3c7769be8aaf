"""History facts (issue 15, deliver 3): declared on a fact as ``history``, checked when the policy loads,
filled from the ledger in one indexed query when deciding through one, supplied by the caller without one."""

from __future__ import annotations

import multiprocessing
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gesture_engine import ComplaintError, PolicyError, load_policy, loads_policy
from gesture_engine.ledger import Ledger
from gesture_engine.ledger.history import history_statement
from gesture_engine.ledger.transfer import read_import
from gesture_engine.load.compiler import HistorySource
from gesture_engine.resources import default_policy_path
from gesture_engine.tools.diff import diff_policies
from tests.ledger_support import Clock

HISTORY_POLICY = """\
policy: counted
version: "1"
currency: USD
budget_cap: 500
goodwill: {fact: given, window_limit: 1000, window: the last 30 days}
facts:
  severity: {type: level, values: [low, high], required: true}
  given: {type: money, default: 0, history: {sum: goodwill, window: 30d}}
  credits: {type: integer, default: 0, history: {count: gestures, gestures: [store_credit], window: 10d}}
  any_gestures: {type: number, default: 0, history: {count: gestures, window: 10d}}
  complaints: {type: integer, default: 0, history: {count: complaints, window: 1d}}
gestures:
  apology: {label: Apology}
  store_credit: {label: Store credit, monetary: true}
  store1credit: {label: A look-alike LIKE must not confuse with store_credit, monetary: true}
actions:
  pay: {label: Pay}
  sorry: {label: Say sorry}
rules:
  - id: capped
    when: {credits: {gte: 2}}
    then: {action: sorry, gestures: [apology]}
  - id: lookalike
    when: {severity: low}
    then: {action: pay, gestures: [apology, store1credit], budget: 5}
  - id: credit
    default: true
    then: {action: pay, gestures: [apology, store_credit], budget: 10}
"""
POLICY = loads_policy(HISTORY_POLICY, name="counted.yaml")
CAPS = load_policy(default_policy_path().parent / "examples" / "goodwill-caps")


def complaint(complaint_id: str, severity: str = "high", customer_id: str = "cust-1") -> dict[str, object]:
    return {"complaint_id": complaint_id, "customer_id": customer_id, "severity": severity}


def history(ledger: Ledger, complaint_id: str, severity: str = "high") -> dict[str, object]:
    """Decide through the ledger and return the history facts it filled in."""
    decision, _ = ledger.decide(POLICY, complaint(complaint_id, severity))
    return {name: decision.facts[name] for name in ("given", "credits", "any_gestures", "complaints")}


# -- the policy -----------------------------------------------------------------------------------


def test_history_facts_compile_to_their_sources() -> None:
    sources = POLICY.compiled.history
    assert sources["given"] == HistorySource("given", "goodwill", 30 * 86400)
    assert sources["credits"] == HistorySource("credits", "gestures", 10 * 86400, ("store_credit",))
    assert sources["any_gestures"].gestures == ("apology", "store_credit", "store1credit")  # every gesture of the catalog
    assert sources["complaints"] == HistorySource("complaints", "complaints", 86400)
    assert POLICY.compiled.goodwill_window_days == 30
    legacy = load_policy()  # goodwill.window_days is the goodwill fact's history
    assert dict(legacy.compiled.history) == {"goodwill_last_90d": HistorySource("goodwill_last_90d", "goodwill", 90 * 86400)}


@pytest.mark.parametrize(("old", "new", "path", "code"), [
    ("history: {count: complaints, window: 1d}", "history: {sum: goodwill, count: complaints, window: 1d}", "facts.complaints.history", "history"),
    ("history: {count: complaints, window: 1d}", "history: {window: 1d}", "facts.complaints.history", "history"),
    ("history: {count: complaints, window: 1d}", "history: {count: complaints, gestures: [apology], window: 1d}",
     "facts.complaints.history.gestures", "history"),
    ("gestures: [store_credit], window: 10d", "gestures: [store_credt], window: 10d", "facts.credits.history.gestures[0]", "unknown-gesture"),
    ("complaints: {type: integer,", "complaints: {type: money,", "facts.complaints.type", "type-mismatch"),
    ("given: {type: money,", "given: {type: integer,", "facts.given.type", "type-mismatch"),
    ("credits: {type: integer, default: 0,", "credits: {type: integer, default: 0, max: 5,", "facts.credits.max", "history"),
    ("window: 10d}}\n  any", "window: 10 days}}\n  any", "facts.credits.history.window", "pattern"),
    ("window: 10d}}\n  any", "window: 4000d}}\n  any", "facts.credits.history.window", "duration"),
    ("count: complaints, window: 1d", "count: visits, window: 1d", "facts.complaints.history.count", "one-of"),
    ("severity: {type: level, values: [low, high], required: true}",
     "severity: {type: level, values: [low, high], required: true, history: {count: complaints, window: 1d}}", "facts.severity.history", "fact"),
    ("window: the last 30 days}", "window_days: 30}", "goodwill.window_days", "history"),
    ("goodwill: {fact: given,", "goodwill: {fact: credits,", "goodwill.fact", "type-mismatch"),
])
def test_a_history_that_cannot_be_filled_is_a_located_policy_problem(old: str, new: str, path: str, code: str) -> None:
    assert old in HISTORY_POLICY
    with pytest.raises(PolicyError) as caught:
        loads_policy(HISTORY_POLICY.replace(old, new, 1))
    assert (path, code) in [(p.path, p.code) for p in caught.value.problems], caught.value.problems


def test_the_goodwill_fact_history_is_a_goodwill_sum() -> None:
    text = HISTORY_POLICY.replace("goodwill: {fact: given,", "goodwill: {fact: any_gestures,").replace(
        "any_gestures: {type: number,", "any_gestures: {type: money,")
    with pytest.raises(PolicyError) as caught:
        loads_policy(text)
    assert ("facts.any_gestures.history", "history") in [(p.path, p.code) for p in caught.value.problems]


def test_without_a_ledger_the_caller_supplies_history_facts() -> None:
    assert POLICY.decide({"severity": "high", "credits": 2}).action == "sorry"
    assert POLICY.decide({"severity": "high"}).facts["credits"] == 0


# -- through a ledger -----------------------------------------------------------------------------


def test_counts_follow_what_reservations_hold_and_their_windows(ledger: Ledger, clock: Clock) -> None:
    assert history(ledger, "c1") == {"given": Decimal("0.00"), "credits": 0, "any_gestures": 0, "complaints": 0}
    assert history(ledger, "c2", "low") == {"given": Decimal("10.00"), "credits": 1, "any_gestures": 2, "complaints": 1}
    # store1credit (c2) is not store_credit: '_' is no wildcard here
    assert history(ledger, "c3") == {"given": Decimal("15.00"), "credits": 1, "any_gestures": 4, "complaints": 2}
    third = ledger.history("cust-1")[-1]
    ledger.release(third.reservation_id)  # given back: its gestures no longer count, the complaint still does
    clock.advance(hours=1)
    assert history(ledger, "c4") == {"given": Decimal("15.00"), "credits": 1, "any_gestures": 4, "complaints": 3}
    ledger.issue(ledger.history("cust-1")[0].reservation_id)  # c1's credit is given: it holds past the reservations' ttl (7d)
    clock.advance(days=1, hours=1)  # c1-c4 are out of the complaints' window (1d)
    assert history(ledger, "c5")["complaints"] == 0
    clock.advance(days=8)  # the open reservations (c2, c4, c5) expired: only the issued c1 still holds
    assert history(ledger, "c6") == {"given": Decimal("10.00"), "credits": 1, "any_gestures": 2, "complaints": 0}
    ledger.release(ledger.history("cust-1")[-1].reservation_id)  # c6's
    clock.advance(days=1, minutes=1)  # c1 is out of the gestures' window (10d), still in the goodwill's (30d)
    assert history(ledger, "c7") == {"given": Decimal("10.00"), "credits": 0, "any_gestures": 0, "complaints": 0}


def test_the_frequency_cap_counts_issued_credits_and_not_released_ones(ledger: Ledger) -> None:
    first, reservation = ledger.decide(POLICY, complaint("c1"))
    ledger.issue(reservation.reservation_id, "4.00")  # issued, even in part: the credit was given
    second, _ = ledger.decide(POLICY, complaint("c2"))
    assert (first.rule, second.rule, second.facts["credits"]) == ("credit", "credit", 1)
    third, _ = ledger.decide(POLICY, complaint("c3"))
    assert (third.rule, third.budget.amount, third.facts["credits"]) == ("capped", Decimal(0), 2)
    redecided, _ = ledger.decide(POLICY, complaint("c2"), redecide=True)  # c2's credit released, then c2 decided again
    assert (redecided.rule, redecided.facts["credits"], redecided.facts["complaints"]) == ("credit", 1, 2)  # c2 is one complaint


def test_imported_gestures_count(ledger: Ledger) -> None:
    ledger.import_rows(read_import("customer_id,amount,currency,at,gestures\n"
                                   "cust-1,5,USD,2026-12-09,store_credit apology\n"
                                   "cust-1,5,USD,2026-11-01,store_credit\n"))  # outside the 10-day window
    assert history(ledger, "c1") == {"given": Decimal("5.00"), "credits": 1, "any_gestures": 2, "complaints": 0}


def test_a_complaint_through_a_ledger_may_supply_no_history_fact(ledger: Ledger) -> None:
    with pytest.raises(ComplaintError) as caught:
        ledger.decide(POLICY, {**complaint("c1"), "credits": 0, "complaints": 1})
    assert [(p.field, p.code) for p in caught.value.problems] == [("complaints", "history_fact_supplied"),
                                                                 ("credits", "history_fact_supplied")]
    assert list(ledger.events()) == []


def test_the_example_frequency_cap_through_a_ledger(ledger: Ledger) -> None:
    rules = []
    for number in range(1, 5):
        decision, _ = ledger.decide(CAPS, {"complaint_id": f"t{number}", "customer_id": "c9", "severity": "medium"})
        rules.append((decision.rule, str(decision.budget.amount), decision.facts["credits_last_90d"]))
    assert rules == [("everyday-credit", "25.00", 0), ("everyday-credit", "25.00", 1),
                     ("everyday-credit-cap", "0.00", 2), ("everyday-credit-cap", "0.00", 2)]
    serious, reservation = ledger.decide(CAPS, {"complaint_id": "t5", "customer_id": "c9", "severity": "high"})
    assert (serious.rule, serious.approval.level, reservation.approval_required) == ("serious-credit-cap", "manager", True)
    assert "senior_call" in [g.id for g in serious.gestures]  # four complaints in 30 days before this one


# -- one indexed query ------------------------------------------------------------------------------


def query_plan(path: Path, sources: tuple[HistorySource, ...]) -> str:
    Ledger.open(f"sqlite:///{path}").close()
    engine = create_engine(f"sqlite:///{path}")
    values = {"customer_id": "cust-1", "complaint_id": "c1", "currency": "USD", "since": 0, **{f"since_{i}": 0 for i in range(len(sources))}}
    query = history_statement(sources).params(values).compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        plan = " ".join(str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {query}")))
    engine.dispose()
    return plan


def test_every_history_fact_comes_from_one_query_on_the_customer_index(tmp_path: Path) -> None:
    plan = query_plan(tmp_path / "all.db", tuple(POLICY.compiled.history.values()))
    assert "SEARCH ledger_events USING INDEX ix_ledger_events_customer (customer_id=?)" in plan and "SCAN" not in plan, plan
    goodwill = query_plan(tmp_path / "goodwill.db", (POLICY.compiled.history["given"],))
    assert "USING COVERING INDEX ix_ledger_events_customer (customer_id=? AND currency=? AND reserved_at>?)" in goodwill, goodwill


def test_a_changed_history_window_shows_in_a_policy_diff() -> None:
    wider = loads_policy(HISTORY_POLICY.replace("gestures: [store_credit], window: 10d", "gestures: [store_credit], window: 30d"))
    changes = diff_policies(POLICY, wider).changes
    fields = [f for change in changes if change.section == "policy" for f in change.fields if f.field == "history"]
    assert len(fields) == 1 and "credits: gestures store_credit in 10d" in fields[0].old and "credits: gestures store_credit in 30d" in fields[0].new


def test_counting_every_gesture_of_a_large_catalog_stays_one_query(ledger: Ledger) -> None:
    catalog = "".join(f"  g{i}: {{label: G{i}}}\n" for i in range(1500))  # a flat chain of 1,500 additions is past SQLite's depth of 1000
    policy = loads_policy('policy: big\nversion: "1"\ncurrency: USD\nbudget_cap: 10\n'
                          "facts:\n  given: {type: integer, default: 0, history: {count: gestures, window: 10d}}\n"
                          f"gestures:\n{catalog}actions:\n  a: {{label: A}}\n"
                          "rules:\n  - {id: d, default: true, then: {action: a, gestures: [g1, g1499]}}\n")
    counts = [ledger.decide(policy, {"complaint_id": f"c{i}", "customer_id": "k"})[0].facts["given"] for i in range(3)]
    assert counts == [0, 2, 4]


def credit_requests(url: str, worker: int, calls: int, start: float) -> int:
    """A writer process: from ``start`` (all writers at once), everyday complaints of 10 customers in turn, through the frequency cap."""
    with Ledger.open(url) as ledger:
        time.sleep(max(0.0, start - time.time()))
        for call in range(calls):
            ledger.decide(CAPS, {"complaint_id": f"w{worker}-{call}", "customer_id": f"c{call % 10}", "severity": "medium"})
    return calls


def test_concurrent_decisions_for_one_customer_never_give_a_third_credit(url: str) -> None:
    Ledger.migrate(url)
    start = time.time() + 3  # past the processes' start-up
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert sum(pool.starmap(credit_requests, [(url, worker, 30, start) for worker in range(4)])) == 120
    with Ledger.open(url) as ledger:
        for customer in (f"c{i}" for i in range(10)):
            reservations = ledger.history(customer)
            credited = [r for r in reservations if "account_credit" in r.events[0].gestures]
            assert (len(reservations), len(credited)) == (12, 2), customer  # counts are read in the customer's locked transaction
            assert ledger.history_facts(CAPS, customer) == {"goodwill_last_90d": Decimal("50.00"), "credits_last_90d": 2,
                                                            "complaints_last_30d": 12}
