"""Budget lookups by any fact type: by a level, enum or boolean value, and by the band a number falls in."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gesture_engine import PolicyError
from gesture_engine.tools import check_invariants, lint
from tests.conftest import make_policy

FACTS = {
    "severity": {"type": "level", "values": ["low", "medium", "high"], "required": True},
    "distance_km": {"type": "integer", "min": 0, "default": 0},
    "fare": {"type": "money", "default": 0},
    "vip": {"type": "boolean", "default": False},
}


def budgeted(budget: Any, **parts: Any) -> Any:
    """A one-rule policy (the default rule) with ``budget``."""
    rule = {"id": "pay", "default": True, "then": {"action": "pay", "gestures": ["credit"], "respond_within": "1d", "budget": budget}}
    return make_policy(facts=FACTS, rules=[rule], budget_cap=2000, **parts)


BANDS = {"by": "distance_km", "ranges": [{"lte": 1500, "value": 250}, {"lt": 3500, "value": 400}, {"value": 600}]}


@pytest.mark.parametrize(("distance", "amount", "band"), [
    (0, "250.00", "up to 1500"), (1500, "250.00", "up to 1500"), (1501, "400.00", "over 1500, under 3500"),
    (3499, "400.00", "over 1500, under 3500"), (3500, "600.00", "from 3500"), (10**6, "600.00", "from 3500"),
])
def test_a_number_falls_in_its_band_at_the_edges(distance: int, amount: str, band: str) -> None:
    decision = budgeted({"base": BANDS}).decide({"severity": "low", "distance_km": distance})
    assert decision.budget.amount == Decimal(amount)
    assert decision.budget.summary == f"base {amount} (distance_km {distance}: {band})"


def test_money_bands_compare_to_the_cent_and_a_default_covers_what_lies_beyond() -> None:
    policy = budgeted({"base": 10, "multipliers": [{"by": "fare", "ranges": [{"lt": 99.99, "value": 1}, {"lte": 500, "value": 2}],
                                                      "default": 3}]})
    amounts = {fare: policy.decide({"severity": "low", "fare": fare}).budget.amount for fare in ("99.98", "99.99", "500", "500.01")}
    assert amounts == {"99.98": Decimal("10.00"), "99.99": Decimal("20.00"), "500": Decimal("20.00"), "500.01": Decimal("30.00")}
    assert policy.decide({"severity": "low", "fare": "600"}).budget.steps[1].text == "× 3 (fare 600: otherwise)"


def test_a_boolean_fact_chooses_a_factor() -> None:
    policy = budgeted({"base": 100, "multipliers": [{"by": "vip", "values": {True: 1.5, "false": 1}}]})
    vip = policy.decide({"severity": "low", "vip": True})
    assert vip.budget.amount == Decimal("150.00") and vip.budget.summary == "base 100.00 × 1.5 (vip true) = 150.00"
    assert policy.decide({"severity": "low"}).budget.amount == Decimal("100.00")


@given(st.integers(min_value=0, max_value=10**7), st.booleans())
@settings(max_examples=200, deadline=None)
def test_bands_agree_with_a_plain_reading(distance: int, vip: bool) -> None:
    policy = POLICY
    base = 250 if distance <= 1500 else 400 if distance < 3500 else 600
    expected = Decimal(base) * (Decimal("1.5") if vip else 1)
    assert policy.decide({"severity": "low", "distance_km": distance, "vip": vip}).budget.amount == expected


POLICY = budgeted({"base": BANDS, "multipliers": [{"by": "vip", "values": {"true": 1.5, "false": 1}}]})


def problems(budget: Any) -> list[tuple[str, int, str]]:
    with pytest.raises(PolicyError) as info:
        budgeted(budget)
    return [(p.path, p.line, p.code) for p in info.value.problems]


@pytest.mark.parametrize(("budget", "where", "code"), [
    ({"base": {"by": "distance_km", "values": {"a": 1}, "ranges": [{"value": 1}]}}, "base", "lookup"),
    ({"base": {"by": "distance_km"}}, "base", "lookup"),
    ({"base": {"by": "severity", "ranges": [{"value": 1}]}}, "base.by", "type-mismatch"),
    ({"base": {"by": "distance_km", "values": {"1": 1}}}, "base.by", "type-mismatch"),
    ({"base": {"by": "vip", "values": {"yes": 1, "true": 1, "false": 1}}}, "base.values.yes", "unknown-value"),
    ({"base": {"by": "vip", "values": {"true": 1}}}, "base.values", "lookup"),
    ({"base": {"by": "distance_km", "ranges": [{"lte": 10, "value": 1}, {"lte": 5, "value": 2}, {"value": 3}]}}, "base.ranges[1].lte", "lookup"),
    ({"base": {"by": "distance_km", "ranges": [{"lte": 10, "value": 1}, {"lt": 10, "value": 2}, {"value": 3}]}}, "base.ranges[1].lt", "lookup"),
    ({"base": {"by": "distance_km", "ranges": [{"value": 1}, {"lte": 10, "value": 2}]}}, "base.ranges[0]", "lookup"),
    ({"base": {"by": "distance_km", "ranges": [{"lte": 10, "value": 1}]}}, "base.ranges", "lookup"),
    ({"base": {"by": "distance_km", "ranges": [{"value": 1}], "default": 2}}, "base.default", "lookup"),
    ({"base": {"by": "distance_km", "ranges": [{"lt": 1, "lte": 2, "value": 1}, {"value": 2}]}}, "base.ranges[0]", "lookup"),
])
def test_a_bad_lookup_is_located(budget: Any, where: str, code: str) -> None:
    [(path, line, found)] = problems(budget)
    assert (path, found) == (f"rules[0].then.budget.{where}", code) and line > 0


def test_a_point_band_between_lt_and_lte_of_one_bound() -> None:
    policy = budgeted({"base": {"by": "distance_km", "ranges": [{"lt": 10, "value": 1}, {"lte": 10, "value": 2}, {"value": 3}]}})
    assert [policy.decide({"severity": "low", "distance_km": d}).budget.amount for d in (9, 10, 11)] == [1, 2, 3]


def test_lint_warns_of_lookup_amounts_the_max_always_cuts() -> None:
    policy = budgeted({"base": {"by": "severity", "values": {"low": 10, "medium": 90, "high": 900}}, "max": 100})
    [finding] = [f for f in lint(policy).findings if f.code == "GE304"]
    assert "high (900)" in finding.message and "max 100" in finding.message and finding.line > 0


def test_the_invariant_search_tries_the_edges_of_bands() -> None:
    falling = {"by": "distance_km", "ranges": [{"lte": 1500, "value": 400}, {"value": 250}]}
    invariants = [{"monotone": "budget", "in": "distance_km"}]
    [found] = check_invariants(budgeted({"base": falling}, invariants=invariants))
    assert (found.lower["distance_km"], found.higher["distance_km"]) == (1500, 1501)


def test_a_duration_falls_in_its_band() -> None:
    facts = {**FACTS, "delay": {"type": "duration", "default": "0m"}}
    bands = {"by": "delay", "ranges": [{"lt": "2h", "value": 0}, {"lt": "PT4H", "value": 125}, {"value": 250}]}
    policy = make_policy(facts=facts, budget_cap=2000, rules=[{"id": "pay", "default": True, "then": {
        "action": "pay", "gestures": ["credit"], "respond_within": "1d", "budget": {"base": bands}}}])
    amounts = {delay: policy.decide({"severity": "low", "delay": delay}).budget.amount for delay in ("1h59m", "2h", "3h59m59s", "4h", "2d")}
    assert amounts == {"1h59m": 0, "2h": 125, "3h59m59s": 125, "4h": 250, "2d": 250}
    assert policy.decide({"severity": "low", "delay": "3h"}).budget.summary == "base 125.00 (delay 3h: from 2h, under 4h)"
    with pytest.raises(PolicyError) as info:
        make_policy(facts=facts, rules=[{"id": "pay", "default": True, "then": {"action": "pay", "budget": {"base": {
            "by": "delay", "ranges": [{"lt": 2, "value": 0}, {"value": 1}]}}}}])
    assert [(p.path, p.code) for p in info.value.problems] == [("rules[0].then.budget.base.ranges[0].lt", "type-mismatch")]
