"""A budget plan's two runs of its arithmetic agree: ``amount_of`` (deciding, one function of the plan's
constants) and ``amount`` with a trail (the steps a decision shows), on random budgets and facts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gesture_engine.engine.budget import BudgetPlan, BudgetSpec, Limits, Lookup

LEVELS = ("low", "medium", "high")
FACTORS = st.sampled_from([Decimal(text) for text in ("0", "1", "1.0", "1.00", "2", "1.1", "1.25", "0.333", "1.5", "3")])
AMOUNTS = st.decimals(min_value=0, max_value=10**6, places=2) | st.decimals(min_value=0, max_value=10**4, places=6)


@st.composite
def lookups(draw: Any, fact: str, values: st.SearchStrategy[Decimal]) -> Lookup:
    """A lookup by value (of ``fact``, a level) or by band (of ``spend``, money)."""
    if draw(st.booleans()):
        return Lookup(fact, {level: draw(values) for level in LEVELS})
    ends = sorted(set(draw(st.lists(AMOUNTS, min_size=1, max_size=3))))
    bounds = tuple((end, draw(st.booleans())) for end in ends)
    open_ended = draw(st.booleans())
    labels = [f"band{i}" for i in range(len(bounds) + 1)]
    if not open_ended:
        labels[-1] = "otherwise"
    return Lookup("spend", {label: draw(values) for label in labels}, bounds)


@st.composite
def plans(draw: Any) -> BudgetPlan:
    base = draw(st.one_of(AMOUNTS, lookups("severity", AMOUNTS)))
    rates = st.sampled_from([Decimal(p) for p in ("2.5", "5", "12.5", "100", "0")])
    percent = draw(st.none() | st.tuples(st.sampled_from(["spend", "order"]), rates))
    multipliers = tuple(draw(st.lists(st.sampled_from(["severity", "tier", "channel"]).flatmap(lambda fact: lookups(fact, FACTORS)), max_size=4)))
    spec = draw(st.none() | st.just(BudgetSpec(base, percent, multipliers, draw(st.none() | AMOUNTS), draw(st.none() | AMOUNTS))))
    goodwill = draw(st.booleans())
    unit = draw(st.sampled_from([Decimal("0.01"), Decimal(1), Decimal("0.001")]))
    limits = Limits(unit, draw(AMOUNTS), "given" if goodwill else None, draw(AMOUNTS) if goodwill else None, "90 days")
    return BudgetPlan(spec, limits)


@st.composite
def facts(draw: Any) -> dict[str, Any]:
    return {"severity": draw(st.sampled_from(LEVELS)), "tier": draw(st.sampled_from(LEVELS)), "channel": draw(st.sampled_from(LEVELS)),
            "spend": draw(AMOUNTS), "order": draw(AMOUNTS), "given": draw(AMOUNTS)}


@settings(max_examples=600, deadline=None)
@given(plans(), st.lists(facts(), min_size=1, max_size=5))
def test_deciding_computes_the_amount_the_steps_show(plan: BudgetPlan, many: list[dict[str, Any]]) -> None:
    for one in many:
        trail: list[tuple[str, Decimal]] = []
        shown = plan.amount(one, trail)
        decided = plan.amount_of(one)
        assert decided == shown and str(decided) == str(shown), (one, trail)  # the same number, written the same
        if trail:
            assert trail[-1][1] == shown


def test_a_multiplier_of_one_changes_nothing_however_it_is_written() -> None:
    """Skipping a factor of 1 keeps the amount's exponent: 1, 1.0 and 1.00 give the same text."""
    limits = Limits(Decimal("0.01"), Decimal(10**6))
    for one in ("1", "1.0", "1.000"):
        spec = BudgetSpec(Decimal("10.5"), ("spend", Decimal("5")), (Lookup("severity", {level: Decimal(one) for level in LEVELS}),))
        plan = BudgetPlan(spec, limits)
        for spend in (Decimal("0"), Decimal("19.99"), Decimal("12345.675")):
            facts = {"severity": "low", "spend": spend}
            assert str(plan.amount_of(facts)) == str(plan.amount(facts, []))
