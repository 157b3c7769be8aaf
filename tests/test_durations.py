"""Deadlines: the duration grammar and its bound (issue 14: a policy could promise a deadline that
overflowed every respond_by, and respond_within_seconds could leave int64)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gesture_engine import PolicyError, loads_policy
from gesture_engine.durations import MAX_DURATION_SECONDS, parse_duration
from tests.conftest import MINIMAL


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("1h30m", 5400), ("1d", 86400), ("0001d", 86400), ("3650d", MAX_DURATION_SECONDS),
                                               ("87600h", MAX_DURATION_SECONDS), ("3649d23h60m", MAX_DURATION_SECONDS)])
def test_durations_up_to_ten_years_are_read(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0m", "0d0h", "3650d1m", "87601h", "99999999999d", "9" * 5000 + "m", "1d\n", "\n1d", " 1d", "1d ", "１d",
                                  "1٢h", "+1d", "-1d", "1_0m", "1.5h", "1m1h", "1D"])
def test_everything_else_is_not_a_duration(text: str) -> None:
    assert parse_duration(text) is None


def test_the_longest_deadline_loads_and_decides_even_near_the_end_of_time() -> None:
    policy = loads_policy(MINIMAL.replace("respond_within: 1d", "respond_within: 3650d"))
    decision = policy.decide({"severity": "low", "received_at": "8999-12-31T00:00:00Z"})  # the latest received_at taken
    assert decision.respond_within == "3650d"
    assert decision.respond_within_seconds == MAX_DURATION_SECONDS < 2**63
    assert decision.respond_by == datetime(9009, 12, 29, tzinfo=UTC)


def test_a_longer_deadline_is_a_located_problem() -> None:
    with pytest.raises(PolicyError) as caught:
        loads_policy(MINIMAL.replace("respond_within: 2h", "respond_within: 3651d"), name="p.yaml")
    assert [(p.line, p.column, p.path, p.code) for p in caught.value.problems] == [(27, 23, "rules[0].then.respond_within", "duration")]
