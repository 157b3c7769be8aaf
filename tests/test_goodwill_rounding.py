"""The goodwill window is a ceiling: what is left of it is rounded down to the minor unit, never up.

Regression (issue 14): 949.995 given of a 1000 limit left 50.005, rounded half-up to a budget of
50.01 (1000.005 in all), which could also lift the approval level; JPY gave 500 where 499.99 was left.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gesture_engine import Policy, loads_policy
from gesture_engine.money import MINOR_UNITS

POLICY = """\
policy: goodwill
version: "1"
currency: {currency}
budget_cap: 1000000
goodwill: {{fact: given, window_limit: {limit}, window: 90 days}}
facts:
  given: {{type: money, default: 0}}
  order: {{type: money, default: 0}}
gestures:
  credit: {{label: Credit, monetary: true}}
actions:
  pay: {{label: Pay}}
approval:
  levels: [agent, lead, manager]
  ladder:
    - {{up_to: {low}, level: agent}}
    - {{up_to: {high}, level: lead}}
    - {{level: manager}}
rules:
  - id: pay
    default: true
    then:
      action: pay
      gestures: [credit]
      budget: {{base: 0, percent_of: {{fact: order, percent: 100}}}}
      respond_within: 1d
"""


def policy(currency: str, limit: Decimal, low: Decimal = Decimal(50), high: Decimal = Decimal(500)) -> Policy:
    return loads_policy(POLICY.format(currency=currency, limit=limit, low=low, high=high), name="goodwill.yaml")


def test_the_issue_example_stays_within_the_window() -> None:
    decision = policy("USD", Decimal(1000), low=Decimal("50.00")).decide({"given": "949.995", "order": 100})
    assert decision.budget.amount == Decimal("50.00")
    assert decision.approval.level == "agent"  # 50.01 would have needed a lead
    assert decision.budget.steps[-1].text == "reduced to 50.00 (goodwill limit 1000.00 in 90 days, 949.995 already given)"


@pytest.mark.parametrize(("currency", "given", "expected"), [("JPY", "500.01", "499"), ("USD", "0.001", "999.99"), ("KWD", "0.0005", "999.999")])
def test_the_remainder_rounds_down_in_every_currency(currency: str, given: str, expected: str) -> None:
    decision = policy(currency, Decimal(1000)).decide({"given": given, "order": 5000})
    assert str(decision.budget.amount) == expected


CURRENCIES = [code for code, places in (("JPY", 0), ("USD", 2), ("KWD", 3)) if MINOR_UNITS[code] == places]
"""Currencies with 0, 2 and 3 minor digits."""


def amounts(places: int, high: int) -> st.SearchStrategy[Decimal]:
    """Amounts from 0 to ``high`` with up to ``places`` decimal places."""
    return st.integers(0, high * 10**places).map(lambda n: Decimal(n).scaleb(-places))


@settings(max_examples=150, deadline=None)
@given(
    currency=st.sampled_from(CURRENCIES),
    limit=amounts(3, 2000),
    given=amounts(10, 2500),
    order=amounts(4, 3000),
    thresholds=st.tuples(amounts(3, 1000), amounts(3, 1000)).filter(lambda t: t[0] != t[1]).map(sorted),
)
def test_goodwill_given_and_budget_never_exceed_the_limit(currency: str, limit: Decimal, given: Decimal, order: Decimal,
                                                          thresholds: list[Decimal]) -> None:
    """Whatever the amounts and the currency's minor unit: given + budget ≤ limit (when the window is
    not already spent), and the level is the one the exact remainder would need, or lower."""
    chosen = policy(currency, limit, *thresholds)
    decision = chosen.decide({"given": given, "order": order})
    amount = decision.budget.amount
    unit = Decimal(1).scaleb(-MINOR_UNITS[currency])
    assert amount >= 0
    assert amount == amount.quantize(unit)
    if given <= limit:
        assert given + amount <= limit
    else:
        assert amount == 0
    ladder = chosen.compiled.ladder
    exact = min(chosen.decide({"order": order}).budget.amount, max(Decimal(0), limit - given))

    def level(value: Decimal) -> int:
        return next(i for i, (up_to, _) in enumerate(ladder.rows) if up_to is None or value <= up_to)

    assert level(amount) <= level(exact)
    assert decision.approval.level == ladder.rows[level(amount)][1]
