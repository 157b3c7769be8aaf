"""Shared fixtures: the default policy (loaded once), a writer for small policies in tmp_path, one Spark
session, and a goodwill ledger on each backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
import yaml

from gesture_engine import Decision, Policy, load_policy, loads_policy
from gesture_engine.engine.evaluation import evaluate
from gesture_engine.ledger import Ledger
from tests.ledger_support import BACKENDS, Clock, fresh_url


@pytest.fixture(scope="session")
def default_policy() -> Policy:
    return load_policy()


MINIMAL = """\
policy: tiny
version: "1"
currency: USD
budget_cap: 100
facts:
  severity: {type: level, values: [low, medium, high], required: true}
  channel: {type: enum, values: [email, social], default: email}
  spend: {type: money, default: 0}
gestures:
  apology: {label: Apology}
  credit: {label: Credit, monetary: true}
actions:
  sorry: {label: Say sorry}
  pay: {label: Pay}
approval:
  levels: [agent, manager]
  ladder:
    - {up_to: 50, level: agent}
    - {level: manager}
rules:
  - id: high
    when: {severity: {at_least: high}}
    then:
      action: pay
      gestures: [apology, credit]
      budget: 40
      respond_within: 2h
  - id: fallback
    default: true
    then: {action: sorry, gestures: [apology], respond_within: 1d}
"""


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[..., Path]:
    """Write YAML text (dedented) to a file in tmp_path and return its path."""

    def write(text: str = MINIMAL, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
        return path

    return write


def facts_of(policy: Policy, complaint: Mapping[str, Any]) -> dict[str, Any]:
    """A complaint's facts as the policy read them, derived ones included (the decision's ``facts``)."""
    return dict(policy.decide(complaint).facts)


def fired(decision: Decision) -> tuple[str, tuple[str, ...]]:
    """The rule that chose a decision's action and the add-ons that fired, by id."""
    return decision.rule, tuple(entry.rule for entry in decision.trace if entry.hit == "collect")


def fired_plainly(policy: Policy, facts: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """:func:`fired` by the rule-by-rule evaluator: the reference the index is tested against."""
    trace = evaluate(policy.compiled, facts)
    return trace.rule.id, tuple(rule.id for rule in trace.collected)


def policy_text(**parts: Any) -> str:
    """YAML for :data:`MINIMAL` with top-level keys replaced (``rules=[...]``, ``facts={...}``, ...)."""
    document = yaml.safe_load(MINIMAL)
    document.update(parts)
    return yaml.safe_dump(document, sort_keys=False)


def make_policy(**parts: Any) -> Policy:
    """A policy from :data:`MINIMAL` with top-level keys replaced (loaded from text named ``policy.yaml``):
    the shared builder for small policies, so a test shows only what it is about."""
    return loads_policy(policy_text(**parts), name="policy.yaml")


@pytest.fixture(scope="session")
def spark() -> Any:
    """One Spark session (local[2], loopback only) for the whole run: starting one takes seconds.
    The JIT stops at its first tier (tests run briefly) and files split into 64 KiB partitions, so a
    small file still spans several and positions are counted across them."""
    from gesture_engine.spark import session

    spark = session("local[2]", "gesture-tests", {
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.files.maxPartitionBytes": "65536",
        "spark.sql.execution.arrow.maxRecordsPerBatch": "500",
        "spark.ui.showConsoleProgress": "false",
    })
    yield spark
    spark.stop()


# -- the goodwill ledger ----------------------------------------------------------------------------
# ``url`` is an empty ledger database for each backend (PostgreSQL only when GESTURE_TEST_POSTGRES_URL is
# set); a test module may define its own ``url`` (one backend) and the ledger fixtures follow it.


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_url(request.param, tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(url: str, clock: Clock) -> Iterator[Ledger]:
    with Ledger.open(url, clock=clock) as opened:
        yield opened
