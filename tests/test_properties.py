"""Properties over generated policies and complaints (hypothesis).

Policies are generated as data within the format (facts of each type, a derived level table,
first-hit, collect and default rules with random conditions and budgets) and compiled with
``compile_policy``; complaints are generated valid or hostile. Profiles: ``properties`` (default,
a few seconds) and ``properties-thorough`` (set GESTURE_PROPERTIES_PROFILE=properties-thorough).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gesture_engine import ComplaintError, Decision, Policy, load_policy
from gesture_engine.load.compiler import compile_policy
from gesture_engine.load.source import Document

settings.register_profile("properties", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("properties-thorough", parent=settings.get_profile("properties"), max_examples=1000)
PROFILE = settings.get_profile(os.environ.get("GESTURE_PROPERTIES_PROFILE", "properties"))

DEFAULT = load_policy()

# -- generated policies ---------------------------------------------------------------------------

LEVELS = ["l0", "l1", "l2", "l3"]
CHANNELS = ["c0", "c1", "c2"]
TIERS = ["t0", "t1", "t2"]


def money(high: int = 500) -> st.SearchStrategy[Decimal]:
    return st.integers(0, high * 100).map(lambda cents: Decimal(cents) / 100)


def factor() -> st.SearchStrategy[Decimal]:
    return st.integers(0, 30).map(lambda tenths: Decimal(tenths) / 10)


@st.composite
def condition(draw: st.DrawFn, levels: list[str], depth: int = 0) -> dict[str, Any]:
    leaves: list[st.SearchStrategy[dict[str, Any]]] = [
        st.sampled_from(levels).map(lambda v: {"sev": {"at_least": v}}),
        st.sampled_from(levels).map(lambda v: {"sev": v}),
        st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=2).map(lambda vs: {"ch": {"in": vs}}),
        money(20000).map(lambda v: {"amt": {"gte": v}}),
        st.tuples(money(20000), money(20000)).map(lambda ab: {"amt": {"between": sorted(ab)}}),
        st.integers(0, 100).map(lambda n: {"cnt": {"lt": n}}),
        st.booleans().map(lambda b: {"flag": b}),
        st.integers(-50, 50).map(lambda n: {"num": {"gt": n}}),
        st.sampled_from(TIERS).map(lambda v: {"tier": {"at_most": v}}),
    ]
    if depth >= 2:
        return draw(st.one_of(leaves))
    inner = condition(levels, depth + 1)
    return draw(st.one_of(
        *leaves,
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: {"all": cs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: {"any": cs}),
        inner.map(lambda c: {"not": c}),
    ))


@st.composite
def lookup(draw: st.DrawFn, levels: list[str], values: st.SearchStrategy[Decimal]) -> dict[str, Any]:
    by, keys = draw(st.sampled_from([("sev", levels), ("ch", CHANNELS), ("tier", TIERS)]))
    return {"by": by, "values": {key: draw(values) for key in keys}}


@st.composite
def budget(draw: st.DrawFn, levels: list[str]) -> Any:
    if draw(st.booleans()):
        return draw(money())
    spec: dict[str, Any] = {"base": draw(st.one_of(money(), lookup(levels, money())))}
    if draw(st.booleans()):
        spec["percent_of"] = {"fact": "amt", "percent": draw(st.integers(0, 50))}
    spec["multipliers"] = draw(st.lists(lookup(levels, factor()), max_size=2))
    low, high = sorted(draw(st.tuples(money(), money())))
    if draw(st.booleans()):
        spec["min"] = low
    if draw(st.booleans()):
        spec["max"] = high
    return spec


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    levels = LEVELS[: draw(st.integers(2, 4))]
    thresholds = sorted(draw(st.lists(money(20000), min_size=2, max_size=2, unique=True)), reverse=True)
    first = [
        {"id": f"r{i}", "when": draw(condition(levels)),
         "then": {"action": "act", "gestures": ["credit"], "budget": draw(budget(levels)), "respond_within": "1h"}}
        for i in range(draw(st.integers(0, 4)))
    ]
    collect = [
        {"id": f"c{i}", "collect": True, "when": draw(condition(levels)),
         "then": {"gestures": ["note"], "respond_within": "30m", "approval": "boss"}}
        for i in range(draw(st.integers(0, 2)))
    ]
    default = {"id": "fallback", "default": True, "then": {"action": "act", "respond_within": "1d", "budget": draw(budget(levels))}}
    rules = [*first, *collect]
    rules.insert(draw(st.integers(0, len(rules))), default)
    data: dict[str, Any] = {
        "policy": "generated", "version": "1", "currency": "USD",
        "facts": {
            "sev": {"type": "level", "values": levels, "required": True},
            "ch": {"type": "enum", "values": CHANNELS, "default": "c0"},
            "amt": {"type": "money", "default": 0},
            "given": {"type": "money", "default": 0},
            "cnt": {"type": "integer", "min": 0, "default": 0},
            "flag": {"type": "boolean", "default": False},
            "num": {"type": "number", "default": 0},
            "note": {"type": "string", "default": "", "max_length": 50},
        },
        "derived": {"tier": {"type": "level", "values": TIERS, "default": "t0", "table": [
            {"when": {"amt": {"gte": thresholds[0]}}, "value": "t2"},
            {"when": {"amt": {"gte": thresholds[1]}}, "value": "t1"},
        ]}},
        "gestures": {"credit": {"label": "Credit", "monetary": True}, "note": {"label": "Note"}},
        "actions": {"act": {"label": "Act"}},
        "budget_cap": draw(money(1000)),
        "approval": {"levels": ["agent", "boss"], "ladder": [{"up_to": draw(money(200)), "level": "agent"}, {"level": "boss"}]},
        "rules": rules,
    }
    if draw(st.booleans()):
        data["goodwill"] = {"fact": "given", "window_limit": draw(money(1000))}
    return Policy(compile_policy(Document(data, {}, "<generated>")))


# -- generated complaints -------------------------------------------------------------------------

def complaints(levels: list[str] = LEVELS) -> st.SearchStrategy[dict[str, Any]]:
    amounts = st.one_of(money(30000), money(30000).map(str))
    return st.fixed_dictionaries(
        {"sev": st.sampled_from(levels)},
        optional={
            "ch": st.sampled_from(CHANNELS), "amt": amounts, "given": amounts, "cnt": st.integers(0, 10**6),
            "flag": st.booleans(), "num": st.floats(-1e6, 1e6), "note": st.text(max_size=50),
            "complaint_id": st.text(min_size=1, max_size=20),
        },
    )


JUNK = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.decimals(), st.text(max_size=30),
              st.sampled_from(LEVELS + CHANNELS + ["1e5", "NaN", "-1", "12.50", "\ud800"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)
HOSTILE = st.one_of(
    st.dictionaries(st.sampled_from(["sev", "ch", "amt", "given", "cnt", "flag", "num", "note", "tier", "complaint_id",
                                     "customer_id", "received_at", "junk"]), JUNK, max_size=8),
    JUNK,
)


def budget_of(policy: Policy, complaint: dict[str, Any]) -> Decimal:
    return policy.decide(complaint).budget.amount


# -- properties ----------------------------------------------------------------------------------

@PROFILE
@given(policies(), st.one_of(complaints(), HOSTILE))
def test_decide_raises_nothing_but_complaint_error(policy: Policy, complaint: Any) -> None:
    try:
        decision = policy.decide(complaint)
    except ComplaintError as error:
        assert error.problems
        str(error)  # the message renders
        return
    decision.model_dump_json()


@PROFILE
@given(policies(), complaints())
def test_budget_is_between_zero_and_the_cap(policy: Policy, complaint: dict[str, Any]) -> None:
    assume(complaint["sev"] in policy.facts["sev"].values)
    amount = budget_of(policy, complaint)
    assert Decimal(0) <= amount <= policy.compiled.limits.cap
    assert amount == amount.quantize(Decimal("0.01"))


@PROFILE
@given(policies(), complaints())
def test_the_budget_steps_end_at_the_amount_and_read_back_from_json(policy: Policy, complaint: dict[str, Any]) -> None:
    """The steps are written after deciding, by the same arithmetic: they must land on the decided amount."""
    assume(complaint["sev"] in policy.facts["sev"].values)
    decision = policy.decide(complaint)
    assert decision.budget.steps[-1].amount == decision.budget.amount
    assert Decision.model_validate_json(decision.model_dump_json()) == decision


@PROFILE
@given(policies(), complaints())
def test_same_input_same_bytes(policy: Policy, complaint: dict[str, Any]) -> None:
    assume(complaint["sev"] in policy.facts["sev"].values)
    again = Policy(policy.compiled)
    assert policy.decide(complaint).model_dump_json() == again.decide(dict(complaint)).model_dump_json()


@PROFILE
@given(policies(), complaints(), money(2000), money(2000))
def test_more_goodwill_given_never_raises_the_budget(policy: Policy, complaint: dict[str, Any], a: Decimal, b: Decimal) -> None:
    """``given`` appears in no condition, so only the goodwill limit can respond to it."""
    assume(complaint["sev"] in policy.facts["sev"].values)
    less, more = sorted((a, b))
    assert budget_of(policy, {**complaint, "given": more}) <= budget_of(policy, {**complaint, "given": less})


# -- the default policy's promises ---------------------------------------------------------------

PRIVATE = ["email", "phone", "chat"]
PUBLIC = ["app_review", "social_media", "press"]
SEVERITIES = list(DEFAULT.facts["severity"].values)
ISSUES = list(DEFAULT.facts["issue_type"].values)

default_complaints = st.fixed_dictionaries({
    "severity": st.sampled_from(SEVERITIES),
    "channel": st.sampled_from(PRIVATE + PUBLIC),
    "issue_type": st.sampled_from(ISSUES),
    "audience": st.integers(0, 10**6),
    "customer_value": money(20000),
    "order_value": money(20000),
    "goodwill_last_90d": money(1500),
})


@PROFILE
@given(default_complaints)
def test_default_higher_severity_never_lowers_the_budget(complaint: dict[str, Any]) -> None:
    budgets = [budget_of(DEFAULT, {**complaint, "severity": s}) for s in SEVERITIES]
    assert budgets == sorted(budgets)


@PROFILE
@given(default_complaints, st.sampled_from(PRIVATE), st.sampled_from(PUBLIC), st.integers(0, 10**6), st.integers(0, 10**6))
def test_default_more_visibility_never_lowers_the_budget(complaint: dict[str, Any], private: str, public: str, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert budget_of(DEFAULT, {**complaint, "channel": private}) <= budget_of(DEFAULT, {**complaint, "channel": public})
    public_complaint = {**complaint, "channel": public}
    assert budget_of(DEFAULT, {**public_complaint, "audience": low}) <= budget_of(DEFAULT, {**public_complaint, "audience": high})


@PROFILE
@given(default_complaints, money(30000), money(30000))
def test_default_more_customer_value_never_lowers_the_budget(complaint: dict[str, Any], a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    assert budget_of(DEFAULT, {**complaint, "customer_value": low}) <= budget_of(DEFAULT, {**complaint, "customer_value": high})
