"""Shared by the ledger tests: a small policy near its goodwill limit, ledger URLs for each backend, a clock
(the fixtures built on them, ``url``, ``clock`` and ``ledger``, are in conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gesture_engine import Policy, loads_policy

POSTGRES_ENV = "GESTURE_TEST_POSTGRES_URL"

LEDGER_POLICY = """\
policy: ledgered
version: "1"
currency: USD
budget_cap: 500
goodwill: {fact: given, window_limit: 100, window: the last 30 days, window_days: 30, reservation_ttl: 2d}
facts:
  severity: {type: level, values: [low, medium, high], required: true}
  given: {type: money, default: 0}
gestures:
  apology: {label: Apology}
  credit: {label: Credit, monetary: true}
actions:
  sorry: {label: Say sorry}
  pay: {label: Pay}
approval:
  levels: [agent, lead, manager]
  ladder:
    - {up_to: 30, level: agent}
    - {up_to: 60, level: lead}
    - {level: manager}
rules:
  - id: high
    when: {severity: high}
    then: {action: pay, gestures: [apology, credit], budget: 80, respond_within: 2h}
  - id: medium
    when: {severity: medium}
    then: {action: pay, gestures: [apology, credit], budget: 40, respond_within: 1d}
  - id: low
    default: true
    then: {action: pay, gestures: [apology, credit], budget: 10, respond_within: 1d}
"""


def ledger_policy() -> Policy:
    return loads_policy(LEDGER_POLICY, name="ledgered.yaml")


def complaint(complaint_id: str, customer_id: str = "cust-1", severity: str = "high") -> dict[str, object]:
    return {"complaint_id": complaint_id, "customer_id": customer_id, "severity": severity}


class Clock:
    """A clock tests move by hand: expiry and windows without sleeping."""

    def __init__(self, start: datetime = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.skipif(
        not os.environ.get(POSTGRES_ENV), reason=f"no PostgreSQL: set {POSTGRES_ENV} (.ci/run starts a server and sets it)")),
]
"""Parametrize a test over both backends; PostgreSQL is skipped, saying why, without a server."""


def empty_postgres(url: str) -> None:
    """Drop the ledger's tables so a test starts from an empty database."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS ledger_events, ledger_schema"))
    engine.dispose()


def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty ledger database of ``backend``."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'goodwill.db'}"
        return
    url = postgres_url()
    assert url is not None
    empty_postgres(url)
    yield url
    empty_postgres(url)


def decide_many(url: str, worker: int, calls: int, customers: int, seed: int) -> int:
    """A writer process of the concurrency test: ``calls`` decide-and-reserve calls over ``customers``
    customers and three teams; returns how many it made."""
    import random

    from gesture_engine.ledger import Ledger

    policy = ledger_policy()
    chooser = random.Random(seed * 1000 + worker)
    with Ledger.open(url) as ledger:
        for call in range(calls):
            customer = f"cust-{chooser.randrange(customers)}"
            severity = chooser.choice(["low", "medium", "high"])
            ledger.decide(policy, complaint(f"w{worker}-{call}", customer, severity), team=f"team-{call % 3}")
    return calls
