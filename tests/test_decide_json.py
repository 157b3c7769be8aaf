"""``decide_json`` writes exactly what ``decide(...).model_dump_json()`` writes, for every kind of value."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from gesture_engine import Policy, load_policy
from tests.test_index import random_complaint, random_policy

TEXTS = ["", "plain", "ünïcödé ✓", 'quote " and \\ backslash', "tab\tnew\nline\x01\x7f", "emoji 😀", "€ 12,50", "</script>"]


def same(policy: Policy, complaint: dict[str, Any]) -> None:
    assert policy.decide_json(complaint) == policy.decide(complaint).model_dump_json(), complaint


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
