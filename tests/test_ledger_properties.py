"""Property: any interleaving of decide, approve, issue, release and expiry keeps the ledger's derived
balances (indexed sums of event deltas) equal to a replay of its events (kinds and amounts), every
reservation in the state a simple model of the calls predicts, every customer within the limit, and the
history facts (credits given, complaints decided) equal to counts over the reservations' states."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gesture_engine import loads_policy
from gesture_engine.errors import LedgerError
from gesture_engine.ledger import Event, Ledger
from tests.ledger_support import LEDGER_POLICY, Clock, complaint, ledger_policy

POLICY = ledger_policy()
COUNTING = loads_policy(LEDGER_POLICY.replace(
    "  given: {type: money, default: 0}\n",
    "  given: {type: money, default: 0}\n"
    "  credits: {type: integer, default: 0, history: {count: gestures, gestures: [credit], window: 3650d}}\n"
    "  complaints: {type: integer, default: 0, history: {count: complaints, window: 3650d}}\n"))
"""The same policy counting credits and complaints: the ledger's counts are held to its reservations' states."""
CUSTOMERS = ("a", "b", "c")
LEVELS = ("agent", "lead", "manager")

_decide = st.tuples(st.just("decide"), st.sampled_from(CUSTOMERS), st.sampled_from(["low", "medium", "high"]), st.booleans())
_approve = st.tuples(st.just("approve"), st.integers(0, 3), st.sampled_from((*LEVELS, "manager")))
_issue = st.tuples(st.just("issue"), st.integers(0, 3), st.none() | st.integers(-5, 90))  # None: all of it
_release = st.tuples(st.just("release"), st.integers(0, 3))
_wait = st.tuples(st.just("wait"), st.integers(1, 60))  # hours: reservations live 2 days, the window is 30 days
_WEIGHTED = (_decide, _decide, _decide, _approve, _approve, _issue, _issue, _release, _wait, st.just(("expire",)))
operations = st.lists(st.integers(0, len(_WEIGHTED) - 1).flatmap(_WEIGHTED.__getitem__), min_size=3, max_size=40)
"""Calls in any order; the ones that move money come more often, and act mostly on the latest reservations."""


def replay(history: list[Event]) -> dict[str, Decimal]:
    """What each reservation holds, from the kinds and amounts of its events alone (not their deltas)."""
    held: dict[str, Decimal] = {}
    for entry in history:
        if entry.kind in ("reserved", "issued"):
            held[entry.reservation_id] = entry.amount
        elif entry.kind in ("released", "expired"):
            held[entry.reservation_id] = Decimal(0)
    return held


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_derived_balances_equal_a_replay_of_the_events(steps: list[tuple[Any, ...]]) -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder, Ledger.open(f"sqlite:///{folder}/g.db", clock=clock) as ledger:
        made: list[str] = []
        model: dict[str, str] = {}  # reservation id -> the state the calls so far should leave it in
        expiry: dict[str, Any] = {}
        for number, step in enumerate(steps):
            kind = step[0]
            before = sum(1 for _ in ledger.events())
            if kind == "wait":
                clock.advance(hours=step[1])
                for rid, when in expiry.items():
                    if model[rid] in ("reserved", "approved") and when <= clock.now:
                        model[rid] = "expired"
                continue
            if kind == "decide":
                _, customer, severity, again = step
                if again and made:  # the same complaint id again: the existing reservation comes back
                    last = ledger.reservation(made[-1])
                    cid, customer = last.complaint_id, last.customer_id
                else:
                    cid = f"c{number}"
                decision, reservation = ledger.decide(POLICY, complaint(cid, customer, severity))
                if not reservation.existing:
                    made.append(reservation.reservation_id)
                    model[reservation.reservation_id] = "reserved"
                    expiry[reservation.reservation_id] = reservation.expires_at
                    assert decision.facts["given"] + decision.budget.amount <= Decimal(100)
                continue
            if kind == "expire":
                ledger.expire()
                continue
            if not made:
                continue
            rid = made[-1 - step[1] % len(made)]  # mostly the latest reservations
            success = {"approve": "approved", "issue": "issued", "release": "released"}[kind]
            try:
                if kind == "approve":
                    ledger.approve(rid, "mia", step[2])
                elif kind == "issue":
                    ledger.issue(rid, step[2])
                else:
                    ledger.release(rid)
            except LedgerError:
                assert sum(1 for _ in ledger.events()) == before  # a refusal writes nothing (nor the expiry it read)
            else:
                assert model[rid] in ("reserved", "approved"), (rid, model[rid], kind)
                model[rid] = success
        ledger.expire()
        for rid, state in model.items():
            assert ledger.reservation(rid).state == state
        history = list(ledger.events())
        held = replay(history)
        for customer in CUSTOMERS:
            ids = {e.reservation_id for e in history if e.customer_id == customer}
            from_replay = sum((held[rid] for rid in ids), Decimal(0))
            assert ledger.held(customer, "USD", 3650) == from_replay == sum((r.held for r in ledger.history(customer)), Decimal(0))
            assert ledger.held(customer, "USD", 30) <= Decimal(100)
            reservations = ledger.history(customer)
            credits = sum(1 for r in reservations if r.state in ("reserved", "approved", "issued") and "credit" in r.events[0].gestures)
            assert ledger.history_facts(COUNTING, customer) == {"given": from_replay, "credits": credits,
                                                                "complaints": len({r.complaint_id for r in reservations})}
        assert [e.id for e in history] == sorted(e.id for e in history)
