"""Comparing a fact with another fact, and derived facts of number and duration type (issue 13, feature 1):
boundaries, located errors with our codes, explain, diff, invariants, and lint's bounds (no false claims);
durations, dates and datetimes compared with their own type, beside relative tests."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import yaml

from gesture_engine import Policy, PolicyError, loads_policy
from gesture_engine.engine.evaluation import evaluate
from gesture_engine.timevalues import parse_span
from gesture_engine.tools import diff_policies, lint
from gesture_engine.tools.invariants import fact_domains
from tests.conftest import fired, fired_plainly

SCHEME: dict[str, Any] = {
    "policy": "reroute", "version": "1", "currency": "EUR", "budget_cap": 1000,
    "facts": {
        "distance_km": {"type": "integer", "required": True, "min": 0},
        "reroute_delay": {"type": "integer", "default": 0, "min": 0},
        "severity": {"type": "level", "values": ["low", "medium", "high"], "default": "low"},
        "floor": {"type": "level", "values": ["low", "medium", "high"], "default": "medium"},
        "paid": {"type": "money", "default": 0},
        "refunded": {"type": "money", "default": 0},
    },
    "derived": {
        "band": {"type": "enum", "values": ["short", "medium", "long"], "default": "long",
                 "table": [{"when": {"distance_km": {"lte": 1500}}, "value": "short"},
                           {"when": {"distance_km": {"lte": 3500}}, "value": "medium"}]},
        "allowed_delay": {"type": "integer", "default": 240,
                          "table": [{"when": {"band": "short"}, "value": 120}, {"when": {"band": "medium"}, "value": 180}]},
    },
    "gestures": {"comp": {"label": "Compensation", "monetary": True}, "sorry": {"label": "Sorry"}},
    "actions": {"half": {"label": "Half"}, "full": {"label": "Full"}, "none": {"label": "None"}},
    "rules": [
        {"id": "reduced", "when": {"reroute_delay": {"lte": {"fact": "allowed_delay"}}, "distance_km": {"gt": 0}},
         "then": {"action": "half", "gestures": ["comp"], "budget": 50}},
        {"id": "full", "when": {"reroute_delay": {"gt": {"fact": "allowed_delay"}}}, "then": {"action": "full", "gestures": ["comp"], "budget": 100}},
        {"id": "unpaid", "collect": True, "when": {"refunded": {"lt": {"fact": "paid"}}}, "then": {"gestures": ["sorry"]}},
        {"id": "urgent", "collect": True, "when": {"severity": {"at_least": {"fact": "floor"}}}, "then": {"gestures": ["sorry"]}},
        {"id": "fallback", "default": True, "then": {"action": "none", "gestures": ["sorry"]}},
    ],
}


def load(data: dict[str, Any]) -> Policy:
    return loads_policy(yaml.safe_dump(data, sort_keys=False), name="policy.yaml")


def changed(**rules: Any) -> dict[str, Any]:
    """SCHEME with the first rule's ``when`` replaced (``when=...``) or a derived fact replaced."""
    return _replaced(SCHEME, **rules)


def _replaced(document: dict[str, Any], **rules: Any) -> dict[str, Any]:
    """A copy of ``document`` with its first rule's ``when`` or a derived fact replaced."""
    data = yaml.safe_load(yaml.safe_dump(document))
    if "when" in rules:
        data["rules"][0]["when"] = rules["when"]
    if "derived" in rules:
        data["derived"].update(rules["derived"])
    return data


def codes(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(PolicyError) as info:
        load(data)
    return [(p.path, p.code) for p in info.value.problems]


@pytest.fixture(scope="module")
def scheme() -> Policy:
    return load(SCHEME)


# -- deciding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("distance", "delay", "rule"), [
    (1000, 119, "reduced"), (1000, 120, "reduced"), (1000, 121, "full"),  # short band: allowed 120
    (1500, 120, "reduced"), (1501, 180, "reduced"), (1501, 181, "full"),  # medium from 1501 km: 180
    (3500, 179, "reduced"), (3501, 240, "reduced"), (3501, 241, "full"),  # long: the default 240
])
def test_a_delay_is_compared_with_the_limit_its_band_derives(scheme: Policy, distance: int, delay: int, rule: str) -> None:
    decision = scheme.decide({"distance_km": distance, "reroute_delay": delay})
    assert decision.rule == rule
    assert decision.facts["allowed_delay"] == {"short": 120, "medium": 180, "long": 240}[str(decision.facts["band"])]


@pytest.mark.parametrize(("refunded", "holds"), [("41.99", True), ("42.00", False), ("42.01", False)])
def test_money_is_compared_with_money_exactly(scheme: Policy, refunded: str, holds: bool) -> None:
    decision = scheme.decide({"distance_km": 10, "paid": "42.00", "refunded": refunded})
    assert ("unpaid" in fired(decision)[1]) is holds


@pytest.mark.parametrize(("severity", "holds"), [("low", False), ("medium", True), ("high", True)])
def test_a_level_is_compared_with_another_level_by_rank(scheme: Policy, severity: str, holds: bool) -> None:
    decision = scheme.decide({"distance_km": 10, "severity": severity, "floor": "medium"})
    assert ("urgent" in fired(decision)[1]) is holds


def test_a_derived_money_value_is_a_decimal_and_feeds_later_conditions() -> None:
    data = changed(derived={"cap": {"type": "money", "default": 12.5, "table": [{"when": {"band": "short"}, "value": 5}]}},
                   when={"paid": {"gt": {"fact": "cap"}}})
    data["rules"][0]["when"] = {"paid": {"gt": {"fact": "cap"}}, "severity": {"ne": "high"}}
    policy = load(data)
    assert policy.decide({"distance_km": 5000, "paid": "12.50"}).rule != "reduced"
    decision = policy.decide({"distance_km": 5000, "paid": "12.51"})
    assert decision.rule == "reduced" and decision.facts["cap"] == Decimal("12.50")
    assert policy.decide({"distance_km": 10, "paid": "5.01"}).rule == "reduced"


def test_the_index_and_the_plain_evaluator_agree_on_the_scheme(scheme: Policy) -> None:
    rnd = random.Random(7)
    for _ in range(300):
        complaint = {"distance_km": rnd.choice([0, 1, 1500, 1501, 3500, 3501, 9000]),
                     "reroute_delay": rnd.choice([0, 119, 120, 121, 180, 181, 240, 241]),
                     "severity": rnd.choice(["low", "medium", "high"]), "floor": rnd.choice(["low", "medium", "high"]),
                     "paid": rnd.choice(["0", "42", "42.01"]), "refunded": rnd.choice(["0", "42", "41.99"])}
        decision = scheme.decide(complaint)
        assert fired(decision) == fired_plainly(scheme, decision.facts), complaint


# -- located errors ---------------------------------------------------------------------------------
def test_an_unknown_fact_to_compare_with_is_located_with_a_suggestion() -> None:
    with pytest.raises(PolicyError) as info:
        load(changed(when={"reroute_delay": {"lte": {"fact": "alowed_delay"}}}))
    (problem,) = info.value.problems
    assert (problem.path, problem.code) == ("rules[0].when.reroute_delay.lte.fact", "unknown-fact")
    assert "'allowed_delay'" in problem.message


@pytest.mark.parametrize(("when", "path", "code"), [
    ({"paid": {"gt": {"fact": "distance_km"}}}, "rules[0].when.paid.gt.fact", "type-mismatch"),  # money with an integer
    ({"distance_km": {"lt": {"fact": "paid"}}}, "rules[0].when.distance_km.lt.fact", "type-mismatch"),
    ({"severity": {"eq": {"fact": "band"}}}, "rules[0].when.severity.eq.fact", "type-mismatch"),  # a level with an enum
    ({"band": {"at_least": {"fact": "band"}}}, "rules[0].when.band.at_least", "operator"),  # an enum has no order
    ({"severity": {"gt": {"fact": "floor"}}}, "rules[0].when.severity.gt", "operator"),  # levels take at_least/at_most
    ({"distance_km": {"at_least": {"fact": "reroute_delay"}}}, "rules[0].when.distance_km.at_least", "operator"),
    ({"distance_km": {"lte": {"fact": "distance_km"}}}, "rules[0].when.distance_km.lte.fact", "operator"),  # itself
    ({"distance_km": {"in": [{"fact": "reroute_delay"}]}}, "rules[0].when.distance_km.in[0]", "type"),  # only single operands
])
def test_incomparable_facts_and_operators_are_located_errors(when: dict[str, Any], path: str, code: str) -> None:
    assert codes(changed(when=when)) == [(path, code)]


def test_levels_compare_only_with_the_same_levels_and_enums_with_shared_values() -> None:
    data = changed(when={"severity": {"at_least": {"fact": "tier"}}})
    data["facts"]["tier"] = {"type": "level", "values": ["low", "high", "medium"], "default": "low"}
    assert codes(data) == [("rules[0].when.severity.at_least.fact", "type-mismatch")]
    data = changed(when={"band": {"eq": {"fact": "zone"}}})
    data["facts"]["zone"] = {"type": "enum", "values": ["north", "south"], "default": "north"}
    assert codes(data) == [("rules[0].when.band.eq.fact", "type-mismatch")]


def test_numeric_derived_values_are_checked_and_cycles_through_comparisons_are_found() -> None:
    bad = changed(derived={"allowed_delay": {"type": "integer", "default": 240, "table": [{"when": {"band": "short"}, "value": 1.5}]}})
    assert codes(bad) == [("derived.allowed_delay.table[0].value", "type-mismatch")]
    assert codes(changed(derived={"allowed_delay": {"type": "integer", "default": "4h", "table": []}})) == [("derived.allowed_delay.default", "type")]
    negative = changed(derived={"cap": {"type": "money", "default": -1, "table": []}})
    assert codes(negative) == [("derived.cap.default", "type-mismatch")]
    row = {"when": {"distance_km": {"lt": {"fact": "allowed_delay"}}}, "value": 2}
    looped = changed(derived={"allowed_delay": {"type": "integer", "default": 1, "table": [row]}})
    assert codes(looped)[0] == ("derived.allowed_delay", "cycle")
    wrong_type = changed(derived={"allowed_delay": {"type": "boolean", "default": True, "table": []}})
    assert codes(wrong_type) == [("derived.allowed_delay.type", "one-of")]


# -- the tools --------------------------------------------------------------------------------------
def test_explain_shows_both_values_of_a_failed_comparison(scheme: Policy) -> None:
    why = scheme.explain({"distance_km": 2000, "reroute_delay": 181})
    reduced = next(rule for rule in why.rules if rule.rule == "reduced")
    assert reduced.failed is not None
    assert reduced.failed.text == "reroute_delay lte allowed_delay: actual 181 vs 180"
    assert (reduced.failed.other, reduced.failed.expected, reduced.failed.actual) == ("allowed_delay", 180, 181)
    assert [(d.fact, d.value) for d in why.derived] == [("band", "medium"), ("allowed_delay", 180)]


def test_diff_tells_a_fact_from_a_value_that_reads_like_its_name() -> None:
    data = changed(when={"band": {"eq": "short"}})
    data["facts"]["home"] = {"type": "enum", "values": ["short", "long"], "default": "short"}
    compared = yaml.safe_load(yaml.safe_dump(data))
    compared["rules"][0]["when"] = {"band": {"eq": {"fact": "home"}}}
    renamed = yaml.safe_load(yaml.safe_dump(data))
    renamed["facts"]["short"] = {"type": "enum", "values": ["short", "long"], "default": "short"}
    renamed["rules"][0]["when"] = {"band": {"eq": {"fact": "short"}}}
    rule_changes = [(c.id, c.kind) for c in diff_policies(load(data), load(renamed)).changes if c.section == "rule"]
    assert rule_changes == [("reduced", "changed")], "band eq short (a value) is not band eq short (a fact)"
    assert not diff_policies(load(compared), load(compared)).changes


def test_invariant_search_tries_a_fact_at_the_values_it_is_compared_with(scheme: Policy) -> None:
    delays = fact_domains(scheme)["reroute_delay"]
    assert {119, 120, 121, 179, 180, 181, 239, 240, 241} <= set(delays)


def test_lint_is_exact_when_a_comparison_meets_a_derived_number(scheme: Policy) -> None:
    report = lint(scheme)
    assert not [f for f in report.findings if f.code in ("GE101", "GE102")]
    assert [f.rule for f in report.findings if f.code == "GE105"] == ["unpaid"]  # two inputs compared; the band's limit is exact
    data = changed(when={"reroute_delay": {"gte": {"fact": "allowed_delay"}}})  # full (gt) can now never fire
    found = {(f.code, f.rule) for f in lint(load(data)).findings}
    assert ("GE101", "full") in found


def test_lint_bounds_a_comparison_of_two_inputs_and_says_so() -> None:
    data = changed(when={"reroute_delay": {"lte": {"fact": "distance_km"}}})
    report = lint(load(data))
    assert report.bounded == 2 and "2 with comparisons bounded" in report.summary()
    assert [f.rule for f in report.findings if f.code == "GE105"] == ["reduced", "unpaid"]
    assert not [f for f in report.findings if f.code in ("GE101", "GE102")]
    data["rules"][0]["when"] = {"all": [{"reroute_delay": {"lt": {"fact": "distance_km"}}}, {"distance_km": {"lt": {"fact": "reroute_delay"}}}]}
    assert ("GE102", "reduced") not in {(f.code, f.rule) for f in lint(load(data)).findings}  # a bound cannot see the contradiction: no claim


def _lint_claims_hold(policy: Policy, complaints: list[dict[str, Any]]) -> None:
    """Every "never matches", "can never fire" and "default never answers" lint makes holds on ``complaints``."""
    findings = lint(policy).findings
    never = {f.rule for f in findings if f.code in ("GE101", "GE102")}
    default_never = any(f.code == "GE103" for f in findings)
    for complaint in complaints:
        decision = policy.decide(complaint)
        trace = evaluate(policy.compiled, decision.facts)
        matched = {entry.rule.id for entry in (*trace.first, *trace.add_ons) if entry.check.held}
        assert decision.rule not in never and not (matched & {r.id for r in policy.rules if r.hit == "collect"} & never), complaint
        assert not (default_never and trace.default is not None), complaint


@pytest.mark.parametrize("seed", range(25))
def test_lint_makes_no_false_claims_about_comparisons(seed: int) -> None:
    rnd = random.Random(seed)
    numbers = [0, 100, 120, 180, 240, 1500]
    tests = [lambda: {"reroute_delay": {rnd.choice(["gt", "gte", "lt", "lte", "eq", "ne"]): {"fact": rnd.choice(["allowed_delay", "distance_km"])}}},
             lambda: {"distance_km": {rnd.choice(["gt", "lte", "eq"]): rnd.choice(numbers)}},
             lambda: {"reroute_delay": {rnd.choice(["gt", "lte"]): rnd.choice(numbers)}},
             lambda: {"severity": {rnd.choice(["at_least", "at_most", "eq", "ne"]): {"fact": "floor"}}},
             lambda: {"paid": {rnd.choice(["gt", "lte"]): {"fact": "refunded"}}}]

    data = random_rules(rnd, SCHEME, tests)
    policy = load(data)
    complaints = [{"distance_km": d, "reroute_delay": r, "severity": s, "floor": f, "paid": p, "refunded": q}
                  for d in (0, 100, 120, 121, 1500, 1501, 3501) for r in (0, 99, 100, 101, 120, 180, 181, 240, 1500, 1501)
                  for s, f in (("low", "medium"), ("medium", "medium"), ("high", "low"), ("low", "low"))
                  for p, q in (("1", "1"), ("2", "1"), ("0", "3"))]
    _lint_claims_hold(policy, rnd.sample(complaints, 300))


# -- durations, dates and datetimes ---------------------------------------------------------------
TIMES: dict[str, Any] = {
    "policy": "times", "version": "1", "currency": "EUR", "budget_cap": 1000,
    "facts": {
        "distance_km": {"type": "integer", "required": True, "min": 0},
        "reroute_delay": {"type": "duration", "default": "0m"},
        "order_date": {"type": "date", "default": "2026-01-01"},
        "ship_date": {"type": "date", "default": "2026-01-01"},
        "opened_at": {"type": "datetime", "default": "2026-01-01T00:00:00Z"},
        "answered_at": {"type": "datetime", "default": "2026-01-01T00:00:00Z"},
    },
    "derived": {
        "band": SCHEME["derived"]["band"],
        "allowed_delay": {"type": "duration", "default": "4h",
                          "table": [{"when": {"band": "short"}, "value": "2h"}, {"when": {"band": "medium"}, "value": "PT3H"}]},
    },
    "gestures": SCHEME["gestures"],
    "actions": SCHEME["actions"],
    "rules": [
        {"id": "reduced", "when": {"reroute_delay": {"lte": {"fact": "allowed_delay"}}, "distance_km": {"gt": 0}},
         "then": {"action": "half", "gestures": ["comp"], "budget": 50}},
        {"id": "full", "when": {"reroute_delay": {"gt": {"fact": "allowed_delay"}}}, "then": {"action": "full", "gestures": ["comp"], "budget": 100}},
        {"id": "late-ship", "collect": True,
         "when": {"ship_date": {"gt": {"fact": "order_date"}}, "order_date": {"within": "30d", "of": "received_at"}},
         "then": {"gestures": ["sorry"]}},
        {"id": "same-moment", "collect": True, "when": {"answered_at": {"lte": {"fact": "opened_at"}}}, "then": {"gestures": ["sorry"]}},
        {"id": "fallback", "default": True, "then": {"action": "none", "gestures": ["sorry"]}},
    ],
}


def times(**rules: Any) -> dict[str, Any]:
    """TIMES with the first rule's ``when`` or a derived fact replaced, like :func:`changed`."""
    return _replaced(TIMES, **rules)


@pytest.fixture(scope="module")
def timed() -> Policy:
    return load(TIMES)


@pytest.mark.parametrize(("distance", "delay", "rule", "allowed"), [
    (1000, "1h59m59s", "reduced", "2h"), (1000, "PT2H", "reduced", "2h"), (1000, "2h0m1s", "full", "2h"),
    (2000, "3h", "reduced", "3h"), (2000, "PT3H1S", "full", "3h"),
    (5000, "4h", "reduced", "4h"), (5000, "4h0m1s", "full", "4h"),
])
def test_a_duration_is_compared_with_a_derived_duration(timed: Policy, distance: int, delay: str, rule: str, allowed: str) -> None:
    decision = timed.decide({"distance_km": distance, "reroute_delay": delay})
    assert decision.rule == rule
    assert decision.facts["allowed_delay"] == parse_span(allowed)


@pytest.mark.parametrize(("ship", "holds"), [("2025-12-31", False), ("2026-01-01", False), ("2026-01-02", True)])
def test_a_date_is_compared_with_a_date(timed: Policy, ship: str, holds: bool) -> None:
    decision = timed.decide({"distance_km": 1, "ship_date": ship, "received_at": "2026-01-10T00:00:00Z"})
    assert ("late-ship" in fired(decision)[1]) is holds


@pytest.mark.parametrize(("answered", "holds"), [
    ("2026-01-01T01:00:00+01:00", True),  # the same moment in another offset
    ("2026-01-01T00:00:01+01:00", True), ("2026-01-01T00:00:01Z", False), ("2025-12-31T23:59:59-00:01", False),
])
def test_a_datetime_is_compared_with_a_datetime_as_moments(timed: Policy, answered: str, holds: bool) -> None:
    decision = timed.decide({"distance_km": 1, "answered_at": answered})
    assert ("same-moment" in fired(decision)[1]) is holds


def test_the_index_and_the_plain_evaluator_agree_on_times(timed: Policy) -> None:
    rnd = random.Random(11)
    for _ in range(300):
        complaint: dict[str, Any] = {
            "distance_km": rnd.choice([0, 1, 1500, 1501, 3501]), "reroute_delay": rnd.choice(["0m", "2h", "2h0m1s", "3h", "PT3H1S", "4h", "1d"]),
            "order_date": rnd.choice(["2025-12-01", "2026-01-01", "2026-01-02"]), "ship_date": rnd.choice(["2026-01-01", "2026-01-02"]),
            "answered_at": rnd.choice(["2025-12-31T23:59:59Z", "2026-01-01T01:00:00+01:00", "2026-01-01T00:00:01Z"]),
        }
        if rnd.random() < 0.7:
            complaint["received_at"] = rnd.choice(["2026-01-01T00:00:00Z", "2026-01-31T12:00:00Z", "2026-02-15T12:00:00Z"])
        decision = timed.decide(complaint)
        assert fired(decision) == fired_plainly(timed, decision.facts), complaint


@pytest.mark.parametrize(("fact", "other"), [
    ("order_date", "opened_at"),  # a date with a datetime
    ("reroute_delay", "distance_km"),  # a duration with an integer
    ("distance_km", "reroute_delay"),
])
def test_time_facts_compare_only_with_their_own_type(fact: str, other: str) -> None:
    assert codes(times(when={fact: {"lte": {"fact": other}}})) == [(f"rules[0].when.{fact}.lte.fact", "type-mismatch")]


def test_received_at_is_no_fact_to_compare_with() -> None:
    with pytest.raises(PolicyError) as info:
        load(times(when={"order_date": {"lte": {"fact": "received_at"}}}))
    (problem,) = info.value.problems
    assert (problem.path, problem.code) == ("rules[0].when.order_date.lte.fact", "unknown-fact")
    assert "within" in problem.message


@pytest.mark.parametrize(("value", "code"), [("3 hours", "type-mismatch"), ("P1M", "type-mismatch"), (120, "type")])
def test_a_derived_duration_value_is_checked_where_it_is_written(value: Any, code: str) -> None:
    data = times(derived={"allowed_delay": {"type": "duration", "default": "4h", "table": [{"when": {"band": "short"}, "value": value}]}})
    assert codes(data) == [("derived.allowed_delay.table[0].value", code)]
    data = times(derived={"allowed_delay": {"type": "duration", "default": value, "table": []}})
    assert codes(data) == [("derived.allowed_delay.default", code)]


def test_a_derived_fact_of_a_type_without_a_table_form_is_refused() -> None:
    data = times(derived={"deadline": {"type": "date", "default": "2026-01-01", "table": []}})
    assert codes(data) == [("derived.deadline.type", "one-of")]


def test_explain_shows_both_durations(timed: Policy) -> None:
    why = timed.explain({"distance_km": 2000, "reroute_delay": "3h1m"})
    reduced = next(rule for rule in why.rules if rule.rule == "reduced")
    assert reduced.failed is not None
    assert reduced.failed.text == "reroute_delay lte allowed_delay: actual 3h1m vs 3h"
    assert [(d.fact, d.value) for d in why.derived] == [("band", "medium"), ("allowed_delay", parse_span("3h"))]


def test_invariant_search_tries_a_duration_at_a_derived_durations_values_and_a_date_at_the_others_default(timed: Policy) -> None:
    domains = fact_domains(timed)
    assert {parse_span(s) for s in ("1h59m59s", "2h", "2h0m1s", "2h59m59s", "3h", "3h0m1s", "4h", "4h0m1s")} <= set(domains["reroute_delay"])
    assert {date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 2)} <= set(domains["ship_date"])


def test_diff_shows_a_derived_duration_changed(timed: Policy) -> None:
    data = times(derived={"allowed_delay": {**TIMES["derived"]["allowed_delay"], "default": "5h"}})
    changes = [(c.section, c.id, c.kind) for c in diff_policies(timed, load(data)).changes]
    assert changes == [("derived", "allowed_delay", "changed")]
    same = times(derived={"allowed_delay": {**TIMES["derived"]["allowed_delay"], "default": "PT4H"}})
    assert [c.section for c in diff_policies(timed, load(same)).changes] == ["policy"]  # the text differs, the derived fact does not


def test_lint_is_exact_for_a_duration_against_a_derived_duration(timed: Policy) -> None:
    report = lint(timed)
    assert not [f for f in report.findings if f.code in ("GE101", "GE102")]
    assert sorted(f.rule or "" for f in report.findings if f.code == "GE105") == ["late-ship", "same-moment"]  # two inputs each
    found = {(f.code, f.rule) for f in lint(load(times(when={"reroute_delay": {"gte": {"fact": "allowed_delay"}}}))).findings}
    assert ("GE101", "full") in found


@pytest.mark.parametrize("seed", range(15))
def test_lint_makes_no_false_claims_about_time_comparisons_and_relative_tests(seed: int) -> None:
    rnd = random.Random(seed)
    tests = [lambda: {"reroute_delay": {rnd.choice(["gt", "gte", "lt", "lte", "eq", "ne"]): {"fact": "allowed_delay"}}},
             lambda: {"reroute_delay": {rnd.choice(["gt", "lte"]): rnd.choice(["2h", "3h", "4h"])}},
             lambda: {"ship_date": {rnd.choice(["gt", "gte", "lt", "lte", "eq", "ne"]): {"fact": "order_date"}}},
             lambda: {"order_date": {rnd.choice(["gt", "lte"]): rnd.choice(["2026-01-01", "2026-01-02"])}},
             lambda: {"order_date": {rnd.choice(["within", "older_than"]): rnd.choice(["0d", "30d"]),
                                     "of": rnd.choice(["received_at", "ship_date"])}},
             lambda: {"distance_km": {rnd.choice(["gt", "lte"]): rnd.choice([0, 1500, 3500])}}]

    data = random_rules(rnd, TIMES, tests)
    policy = load(data)
    complaints = [{"distance_km": d, "reroute_delay": r, "order_date": o, "ship_date": s, **({"received_at": t} if t else {})}
                  for d in (0, 1500, 1501, 3501) for r in ("0m", "2h", "2h0m1s", "3h", "3h0m1s", "4h", "4h0m1s")
                  for o, s in (("2025-11-01", "2026-01-01"), ("2026-01-01", "2026-01-01"), ("2026-01-02", "2026-01-01"), ("2026-01-01", "2026-01-31"))
                  for t in (None, "2026-01-01T00:00:00Z", "2026-01-31T00:00:00Z")]
    _lint_claims_hold(policy, rnd.sample(complaints, 300))


def random_rules(rnd: random.Random, base: Mapping[str, Any], tests: Sequence[Callable[[], dict[str, Any]]]) -> dict[str, Any]:
    """``base`` (a policy as data) with random first-hit rules, two add-ons and a default, their conditions
    nesting ``all``/``any``/``not`` over ``tests`` (each makes one condition mapping)."""

    def condition(depth: int = 0) -> dict[str, Any]:
        roll = rnd.random()
        if depth < 2 and roll < 0.2:
            return {rnd.choice(["all", "any"]): [condition(depth + 1) for _ in range(rnd.randint(1, 3))]}
        if depth < 2 and roll < 0.3:
            return {"not": condition(depth + 1)}
        merged: dict[str, Any] = {}
        for _ in range(rnd.randint(1, 2)):
            merged.update(rnd.choice(tests)())
        return merged

    data = yaml.safe_load(yaml.safe_dump(base))
    data["rules"] = [*({"id": f"r{i}", "when": condition(), "then": {"action": "full"}} for i in range(rnd.randint(2, 6))),
                     *({"id": f"c{i}", "collect": True, "when": condition(), "then": {"gestures": ["sorry"]}} for i in range(2)),
                     {"id": "fallback", "default": True, "then": {"action": "none"}}]
    return data
