"""The worked example (docs/worked-example.md): its own tests pass with full coverage, lint finds nothing
to warn about, and the figures the page quotes are what the policy decides."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from gesture_engine import load_policy
from gesture_engine.tools import lint, load_suite, run_suite

EXAMPLE = Path(__file__).parent.parent / "rules" / "examples" / "rail-delay"


def test_the_charter_passes_its_tests_with_full_coverage_and_lints_clean() -> None:
    policy = load_policy(EXAMPLE)
    result = run_suite(policy, load_suite(policy, sorted((EXAMPLE / "tests").glob("*.yaml"))), coverage=True)
    assert result.ok and result.passed == 16 and result.invariants_kept == 3
    assert result.coverage is not None and result.coverage.percent == 100.0
    report = lint(policy)
    assert report.exact and report.count("error") == 0 and report.count("warning") == 0


def test_the_page_quotes_what_the_policy_decides() -> None:
    decision = load_policy(EXAMPLE).decide({"distance_km": 1200, "delay": "3h20m", "ticket_price": {"amount": "176.00", "currency": "GBP"},
                                            "locale": "fr"})
    assert (decision.rule, decision.budget.amount, decision.approval.level) == ("long-delay-refund", Decimal("200.00"), "supervisor")
    assert decision.budget.summary == "base 100.00 (distance_km 1200: over 800) × 2 (delay 3h20m: from 2h) = 200.00"
    assert [(o.gesture, o.amount, o.text) for o in decision.owed] == [("refund", Decimal("204.16"), "ticket_price 204.16 (176.00 GBP × 1.16)")]
    assert decision.reasons[0].startswith("3h20m de retard sur un trajet long")
