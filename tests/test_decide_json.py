"""``decide_json`` writes exactly what ``decide(...).model_dump_json()`` writes, for every kind of value."""

from __future__ import annotations

import enum
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from gesture_engine import Policy, load_policy
from gesture_engine.facts import Fact
from gesture_engine.policy import _plain_choices
from tests.test_index import random_complaint, random_policy

TEXTS = ["", "plain", "ünïcödé ✓", 'quote " and \\ backslash', "tab\tnew\nline\x01\x7f", "emoji 😀", "€ 12,50", "</script>"]


BUILT_IN = (str, int, float, bool, Decimal, type(None))
"""The classes JSON parsing gives (floats as Decimal): the batch's UTF-8 path takes nothing else."""


def same(policy: Policy, complaint: dict[str, Any]) -> None:
    """decide_json, and the batch's UTF-8 pieces of it, against pydantic's own JSON."""
    expected = policy.decide(complaint).model_dump_json()
    assert policy.decide_json(complaint) == expected, complaint
    if all(value.__class__ in BUILT_IN for value in complaint.values()):
        pieces: list[bytes] = []
        policy._decide_utf8(complaint, pieces)
        assert b"".join(pieces) == expected.encode() + b"\n", complaint


def test_default_policy_with_every_envelope(default_policy: Policy) -> None:
    rnd = random.Random(11)
    for _ in range(800):
        complaint: dict[str, Any] = {
            "severity": rnd.choice(["low", "medium", "high", "critical"]),
            "channel": rnd.choice(["email", "phone", "chat", "app_review", "social_media", "press"]),
            "audience": rnd.choice([0, 1, 9_999, 10_000, 10**9]),
            "customer_value": rnd.choice([0, "0.5", "12.345", Decimal("1E+3"), Decimal("2500.00"), 99999.99, 10**12]),
            "issue_type": rnd.choice(["other", "out_of_stock", "staff_misconduct", "billing_error", "product_defect"]),
            "order_value": rnd.choice([0, "80", "80.00", "1234.5678"]),
            "goodwill_last_90d": rnd.choice([0, 400, "999.99", 5000]),
        }
        if rnd.random() < 0.5:
            complaint["complaint_id"] = rnd.choice(TEXTS[1:])
        if rnd.random() < 0.5:
            complaint["customer_id"] = rnd.choice([7, 10**30, "C-1"])
        if rnd.random() < 0.5:
            complaint["received_at"] = rnd.choice(
                ["2026-11-23T09:30:00Z", "2026-11-23T09:30:00.123456+05:30", "2026-02-28T23:59:59-08:00", "2026-11-23T09:30:00.5+00:00"]
            )
        same(default_policy, complaint)
    assert default_policy._memo.natural is not None and default_policy._memo.natural[1] == 9  # one pattern for all facts


@pytest.mark.parametrize("seed", range(4))
def test_random_policies_with_numbers_strings_and_booleans(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    path = tmp_path / "p.yaml"
    data = random_policy(rnd, rules=20)
    for rule in data["rules"]:
        if rnd.random() < 0.5:
            rule["then"]["rationale"] = "{tag} {ratio} {flag} {spend} {count} {lvl}"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    policy = load_policy(path)
    for _ in range(300):
        complaint = random_complaint(rnd)
        complaint["tag"] = rnd.choice(TEXTS)
        complaint["ratio"] = rnd.choice([0.0, 0.1, 1.5, -2.25, 1e15, 1e-7, 123456.789, 3.0, 1e-5, 0.0001])
        same(policy, complaint)
    assert policy._memo.natural == ("", -1)  # numbers, booleans and strings: no one pattern for every value


def test_reasons_quoting_facts_are_escaped_once_and_filled_in(tmp_path: Path) -> None:
    """Rationales quoting level, enum, money, integer and number facts take the one-pattern path for the
    reasons' JSON; the sentence around the values has quotes, backslashes, %, newlines and non-ASCII."""
    rnd = random.Random(5)
    data = random_policy(rnd, rules=12)
    for i, rule in enumerate(data["rules"]):
        rule["then"]["rationale"] = f'r{i} "{{lvl}}" \\ 100% of {{spend}} ✓ {{count}}x\n{{ratio}} {{kind}} %s %% {{band}}'
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    policy = load_policy(path)
    for _ in range(400):
        complaint = random_complaint(rnd)
        complaint["spend"] = rnd.choice([0, "80", "80.00", Decimal("1E+2"), Decimal("0.5"), 12.25])
        complaint["ratio"] = rnd.choice([0.0, 2.5, -1.0, 123456.789, 3])
        if rnd.random() < 0.3:
            del complaint["count"], complaint["flag"]  # optional facts left out: their defaults
        same(policy, complaint)
    outcomes = policy._memo.outcomes.values()
    assert outcomes and all(outcome.json_pattern is not None for outcome in outcomes)


class Severity(str, enum.Enum):  # noqa: UP042  (str() gives "Severity.HIGH", not the value: the point here)
    HIGH = "high"


class Audience(enum.IntEnum):
    BIG = 20_000


class Amount(Decimal):
    pass


@pytest.mark.parametrize("complaint", [
    {"severity": Severity.HIGH, "channel": "press"},  # a str subclass: not written with %s
    {"severity": "high", "channel": "press", "audience": Audience.BIG},
    {"severity": "high", "channel": "press", "customer_value": Amount("12.50"), "order_value": Decimal("80.00")},
    {"severity": "low", "channel": "email"},  # every optional fact missing
    {"severity": "low", "channel": "email", "complaint_id": 'ünï "q" \\ \u2028', "customer_id": 10**30},
])
def test_python_values_the_facts_pattern_must_not_assume(default_policy: Policy, complaint: dict[str, Any]) -> None:
    same(default_policy, complaint)


def test_level_values_that_would_need_escaping_are_not_written_as_they_are() -> None:
    assert _plain_choices(Fact("f", "enum", values=("a", "b_2")))
    assert not _plain_choices(Fact("f", "enum", values=("a", 'b"c')))
    assert not _plain_choices(Fact("f", "enum", values=("a\\b",)))
    assert not _plain_choices(Fact("f", "string"))
