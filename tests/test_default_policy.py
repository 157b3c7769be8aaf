"""The embedded default policy, case by case: the service-recovery scenarios it was written for."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from gesture_engine import Policy


def gesture_ids(decision) -> list[str]:  # type: ignore[no-untyped-def]
    return [g.id for g in decision.gestures]


def test_ceo_tweet_gets_fast_personal_generous_answer(default_policy: Policy) -> None:
    # the cab-app story: an angry, high-severity post to a large audience
    d = default_policy.decide(
        {"severity": "high", "channel": "social_media", "audience": 120_000, "customer_value": 800, "issue_type": "service_failure"}
    )
    assert d.action == "personal_outreach"
    assert {"apology", "personal_letter", "gift", "account_credit"} <= set(gesture_ids(d))
    assert d.respond_within == "1h"
    assert d.budget.amount == Decimal("375.00")  # 150 × 1.25 (silver) × 2 (viral)
    assert d.budget.currency == "USD"
    assert "remember_when_followup" in gesture_ids(d)


def test_staff_misconduct_escalates_to_executive_and_pays_in_product(default_policy: Policy) -> None:
    d = default_policy.decide({"severity": "medium", "channel": "chat", "issue_type": "staff_misconduct"})
    assert d.action == "executive_apology"
    assert {"executive_call", "free_service_months", "remember_when_followup"} <= set(gesture_ids(d))
    assert d.budget.amount == Decimal("60.00")
    # 60.00 alone would be a team lead's call; misconduct always goes to a manager
    assert d.approval.level == "manager"
    assert any("requires at least manager" in r for r in d.approval.reasons)


def test_out_of_stock_gets_honesty_not_money(default_policy: Policy) -> None:
    d = default_policy.decide({"severity": "medium", "channel": "email", "issue_type": "out_of_stock", "customer_value": 5000})
    assert d.action == "honest_eta"
    assert {"eta_update", "competitor_referral"} <= set(gesture_ids(d))
    assert d.budget.amount == Decimal("0.00")
    assert not any(g.monetary for g in d.gestures)


def test_minor_private_complaint_from_small_customer_costs_nothing(default_policy: Policy) -> None:
    d = default_policy.decide({"severity": "low", "channel": "email"})
    assert d.action == "apologise_and_fix"
    assert gesture_ids(d) == ["apology"]
    assert d.budget.amount == Decimal("0.00")
    assert d.approval.level == "agent"
    assert d.respond_within == "2d"


def test_valuable_customers_get_more(default_policy: Policy) -> None:
    small = default_policy.decide({"severity": "high", "channel": "email", "customer_value": 0})
    big = default_policy.decide({"severity": "high", "channel": "email", "customer_value": 20_000})
    assert small.action == big.action == "make_it_right"
    assert big.budget.amount == 2 * small.budget.amount


def test_budget_shows_its_arithmetic(default_policy: Policy) -> None:
    d = default_policy.decide({"severity": "high", "channel": "app_review", "customer_value": 3000, "order_value": "80"})
    assert [s.kind for s in d.budget.steps] == ["base", "percent", "multiply", "multiply"]
    assert d.budget.summary == (
        "(base 50.00 (severity high) + 8.00 (10% of order_value 80)) × 1.5 (tier gold) × 1.5 (visibility public) = 130.50"
    )
    assert d.budget.amount == Decimal("130.50")
    assert d.approval.level == "team_lead"


def test_policy_cap_and_goodwill_window_limit_the_budget(default_policy: Policy) -> None:
    base = {"severity": "critical", "channel": "press", "audience": 1_000_000, "customer_value": 50_000}
    capped = default_policy.decide(base)
    assert capped.budget.amount == Decimal("1000.00")
    assert capped.budget.steps[-1].kind in ("max", "cap")
    reduced = default_policy.decide({**base, "goodwill_last_90d": "850"})
    assert reduced.budget.amount == Decimal("150.00")
    assert reduced.budget.steps[-1].kind == "goodwill"
    assert "850 already given" in reduced.budget.summary
    exhausted = default_policy.decide({**base, "goodwill_last_90d": 5000})
    assert exhausted.budget.amount == Decimal("0.00")


def test_every_serious_case_gets_remember_when_followup(default_policy: Policy) -> None:
    for severity in ("high", "critical"):
        d = default_policy.decide({"severity": severity, "channel": "phone"})
        assert "remember_when_followup" in gesture_ids(d)
    d = default_policy.decide({"severity": "medium", "channel": "phone"})
    assert "remember_when_followup" not in gesture_ids(d)


def test_addons_tighten_deadline_and_raise_approval(default_policy: Policy) -> None:
    d = default_policy.decide({"severity": "critical", "channel": "email"})
    assert d.respond_within == "2h"  # make_it_right says 4h; critical-escalation says 2h
    assert d.approval.level == "manager"
    viral_low = default_policy.decide({"severity": "low", "channel": "social_media", "audience": 50_000})
    assert viral_low.action == "goodwill_credit"
    assert viral_low.respond_within == "1h"


def test_billing_errors_are_refunded_and_defects_replaced(default_policy: Policy) -> None:
    billing = default_policy.decide({"severity": "medium", "channel": "email", "issue_type": "billing_error"})
    assert "refund" in gesture_ids(billing)
    defect = default_policy.decide({"severity": "high", "channel": "email", "issue_type": "product_defect"})
    assert "replacement" in gesture_ids(defect)


# -- monotonicity: more severe, more visible or more valuable never gets less -------------------
SEVERITIES = ["low", "medium", "high", "critical"]
CHANNELS = ["email", "phone", "chat", "app_review", "social_media", "press"]
ISSUES = ["service_failure", "product_defect", "delivery_delay", "out_of_stock", "billing_error", "staff_misconduct", "other"]
VALUES = [0, 499, 500, 2500, 10_000, 50_000]
AUDIENCES = [0, 9_999, 10_000, 5_000_000]
ORDERS = [0, "250.00", 20_000]
GOODWILL = [0, 400, 990, 2000]


def budget(policy: Policy, **facts: object) -> Decimal:
    return policy.decide(facts).budget.amount


@pytest.mark.parametrize("issue", ISSUES)
def test_budget_is_monotone(default_policy: Policy, issue: str) -> None:
    for channel, audience, value, order in itertools.product(CHANNELS, AUDIENCES, VALUES, ORDERS):
        amounts = [budget(default_policy, severity=s, channel=channel, audience=audience, customer_value=value,
                          order_value=order, issue_type=issue) for s in SEVERITIES]
        assert amounts == sorted(amounts), (issue, channel, audience, value, order)
    for severity, channel, order in itertools.product(SEVERITIES, CHANNELS, ORDERS):
        for audience in AUDIENCES:
            amounts = [budget(default_policy, severity=severity, channel=channel, audience=audience, customer_value=v,
                              order_value=order, issue_type=issue) for v in VALUES]
            assert amounts == sorted(amounts), (issue, severity, channel, audience, order)
        amounts = [budget(default_policy, severity=severity, channel=channel, audience=a, issue_type=issue, order_value=order)
                   for a in AUDIENCES]
        assert amounts == sorted(amounts), (issue, severity, channel, order)
        given = [budget(default_policy, severity=severity, channel=channel, audience=10_000, customer_value=20_000,
                        issue_type=issue, order_value=order, goodwill_last_90d=g) for g in GOODWILL]
        assert given == sorted(given, reverse=True), (issue, severity, channel, order)


@pytest.mark.parametrize("issue", ISSUES)
def test_more_visible_channels_never_get_less(default_policy: Policy, issue: str) -> None:
    # private < public: a public channel never gets less than a private one, all else equal
    for severity, value, audience in itertools.product(SEVERITIES, VALUES, AUDIENCES):
        private = max(budget(default_policy, severity=severity, channel=c, audience=audience, customer_value=value, issue_type=issue)
                      for c in ("email", "phone", "chat"))
        for channel in ("app_review", "social_media", "press"):
            public = budget(default_policy, severity=severity, channel=channel, audience=audience, customer_value=value, issue_type=issue)
            assert public >= private, (issue, severity, value, audience, channel)
