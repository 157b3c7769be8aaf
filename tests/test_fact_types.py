"""Duration, date, datetime and list facts: reading, every comparison at its boundaries (equal, just
below, just above), relative tests, located errors with codes, and what the tools make of them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gesture_engine import ComplaintError, Policy, PolicyError
from gesture_engine.engine.conditions import domain_cells
from gesture_engine.engine.facts import Fact
from gesture_engine.tools import lint
from tests.conftest import make_policy

FACTS = {
    "severity": {"type": "level", "values": ["low", "medium", "high"], "required": True},
    "wait": {"type": "duration", "default": "0m"},
    "order_date": {"type": "date", "default": "2026-01-01"},
    "opened": {"type": "datetime", "default": "2026-01-01T00:00:00Z"},
    "tags": {"type": "list", "values": ["vip", "press", "legal"], "default": []},
    "labels": {"type": "list", "default": []},
}


def typed(when: dict[str, Any], **facts: Any) -> Policy:
    """A policy whose rule ``hit`` fires when ``when`` holds (else the default ``fallback``)."""
    return make_policy(facts={**FACTS, **facts}, rules=[
        {"id": "hit", "when": when, "then": {"action": "pay", "gestures": ["apology"], "respond_within": "1h"}},
        {"id": "fallback", "default": True, "then": {"action": "sorry", "gestures": ["apology"], "respond_within": "1d"}},
    ])


def hits(policy: Policy, **complaint: Any) -> bool:
    return policy.decide({"severity": "low", **complaint}).rule == "hit"


def problems(complaint: dict[str, Any], policy: Policy | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ComplaintError) as info:
        (policy or typed({"severity": "high"})).decide({"severity": "low", **complaint})
    return [(p.field, p.code) for p in info.value.problems]


def policy_problems(when: dict[str, Any], **facts: Any) -> list[tuple[str, str]]:
    with pytest.raises(PolicyError) as info:
        typed(when, **facts)
    return [(p.path, p.code) for p in info.value.problems]


# -- reading -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "seconds"), [
    ("2h59m", 10740), ("PT2H59M", 10740), ("1d", 86400), ("P1DT2H", 93600), ("P2W", 1209600), ("45m30s", 2730), ("PT30S", 30),
    ("0m", 0), ("PT0S", 0), ("36500d", 36500 * 86400),
])
def test_durations_read_in_the_project_grammar_or_iso_8601(text: str, seconds: int) -> None:
    facts = typed({"severity": "high"}).decide({"severity": "low", "wait": text}).facts
    assert facts["wait"] == timedelta(seconds=seconds)


@pytest.mark.parametrize(("value", "code"), [
    ("3x", "wrong_type"), ("P1M", "wrong_type"), ("P1Y", "wrong_type"), ("PT", "wrong_type"), ("2h 30m", "wrong_type"), ("", "wrong_type"),
    ("PT1.5S", "wrong_type"), (3600, "wrong_type"), (True, "wrong_type"), ("36500d1s", "out_of_range"), ("9999999999d", "out_of_range"),
])
def test_a_bad_duration_is_a_located_problem_with_a_code(value: Any, code: str) -> None:
    assert problems({"wait": value}) == [("wait", code)]


def test_python_callers_may_pass_typed_values() -> None:
    policy = typed({"severity": "high"})
    facts = policy.decide({"severity": "low", "wait": timedelta(hours=2), "order_date": date(2026, 5, 1),
                           "opened": datetime(2026, 5, 1, 9, tzinfo=UTC), "tags": ("press", "vip")}).facts
    assert (facts["wait"], facts["order_date"], facts["tags"]) == (timedelta(hours=2), date(2026, 5, 1), ("vip", "press"))
    assert problems({"wait": timedelta(seconds=-1)}) == [("wait", "out_of_range")]
    assert problems({"wait": timedelta(milliseconds=1)}) == [("wait", "out_of_range")]
    assert problems({"opened": datetime(2026, 5, 1, 9)}) == [("opened", "no_timezone")]
    assert problems({"order_date": datetime(2026, 5, 1, 9, tzinfo=UTC)}) == [("order_date", "wrong_type")]


@pytest.mark.parametrize(("field", "value", "code"), [
    ("order_date", "2026-02-30", "wrong_type"), ("order_date", "2026-2-3", "wrong_type"), ("order_date", "20261123", "wrong_type"),
    ("order_date", "2026-11-23T09:30:00Z", "wrong_type"), ("order_date", "2026-W47-1", "wrong_type"),
    ("opened", "2026-11-23T09:30:00", "no_timezone"), ("opened", "2026-11-23T09:30", "no_timezone"), ("opened", "2026-11-23", "wrong_type"),
    ("opened", "2026-11-23 09:30:00Z", "wrong_type"), ("opened", "2026-11-23T25:00:00Z", "wrong_type"),
])
def test_a_bad_date_or_datetime_is_a_located_problem_with_a_code(field: str, value: str, code: str) -> None:
    assert problems({field: value}) == [(field, code)]


def test_datetimes_keep_their_offset_and_compare_as_moments() -> None:
    policy = typed({"opened": {"gte": "2026-11-23T09:30:00Z"}})
    assert hits(policy, opened="2026-11-23T10:30:00+01:00")  # the same moment
    assert not hits(policy, opened="2026-11-23T10:29:59+01:00")
    assert policy.decide({"severity": "low", "opened": "2026-11-23T10:30:00+01:00"}).facts["opened"].utcoffset() == timedelta(hours=1)


def test_lists_are_read_into_a_canonical_order() -> None:
    policy = typed({"severity": "high"})
    facts = policy.decide({"severity": "low", "tags": ["legal", "vip"], "labels": ["b", "a"]}).facts
    assert facts["tags"] == ("vip", "legal")  # declared order
    assert facts["labels"] == ("a", "b")  # open lists: sorted


@pytest.mark.parametrize(("field", "value", "code"), [
    ("tags", ["vip", "vip"], "repeated_item"), ("labels", ["a", "b", "a"], "repeated_item"), ("tags", ["vpi"], "wrong_type"),
    ("tags", "vip", "wrong_type"), ("labels", [""], "wrong_type"), ("labels", [1], "wrong_type"), ("labels", ["x" * 201], "wrong_type"),
    ("labels", [str(i) for i in range(101)], "out_of_range"), ("tags", {"vip": True}, "wrong_type"),
])
def test_a_bad_list_is_a_located_problem_with_a_code(field: str, value: Any, code: str) -> None:
    assert problems({field: value}) == [(field, code)]


def test_a_list_repeated_in_json_is_refused_like_a_repeated_key(default_policy: Policy) -> None:
    from gesture_engine.complaint import parse_complaint_json

    policy = typed({"severity": "high"})
    with pytest.raises(ComplaintError) as info:
        policy.decide(parse_complaint_json('{"severity": "low", "tags": ["press", "vip", "press"]}'))
    assert [(p.field, p.code) for p in info.value.problems] == [("tags", "repeated_item")]


# -- comparisons at their boundaries --------------------------------------------------------------------
SECOND, DAY = timedelta(seconds=1), timedelta(days=1)


@pytest.mark.parametrize(("op", "below", "equal", "above"), [
    ("gt", False, False, True), ("gte", False, True, True), ("lt", True, False, False), ("lte", True, True, False),
    ("eq", False, True, False), ("ne", True, False, True),
])
def test_duration_comparisons_at_the_boundary(op: str, below: bool, equal: bool, above: bool) -> None:
    for operand in ("3h", "PT3H"):
        policy = typed({"wait": {op: operand}})
        assert [hits(policy, wait=w) for w in ("2h59m59s", "3h", "PT3H1S")] == [below, equal, above]


@pytest.mark.parametrize(("op", "below", "equal", "above"), [
    ("gt", False, False, True), ("gte", False, True, True), ("lt", True, False, False), ("lte", True, True, False),
    ("eq", False, True, False), ("ne", True, False, True),
])
def test_date_and_datetime_comparisons_at_the_boundary(op: str, below: bool, equal: bool, above: bool) -> None:
    dates = typed({"order_date": {op: "2026-11-23"}})
    assert [hits(dates, order_date=d) for d in ("2026-11-22", "2026-11-23", "2026-11-24")] == [below, equal, above]
    moments = typed({"opened": {op: "2026-11-23T09:30:00Z"}})
    assert [hits(moments, opened=m) for m in ("2026-11-23T09:29:59Z", "2026-11-23T09:30:00Z", "2026-11-23T09:30:01Z")] == [below, equal, above]


def test_between_and_in_on_durations_and_dates() -> None:
    between = typed({"wait": {"between": ["1h", "PT3H"]}})
    assert [hits(between, wait=w) for w in ("59m59s", "1h", "2h", "3h", "3h0m1s")] == [False, True, True, True, False]
    dates = typed({"order_date": {"between": ["2026-11-01", "2026-11-30"]}})
    assert [hits(dates, order_date=d) for d in ("2026-10-31", "2026-11-01", "2026-11-30", "2026-12-01")] == [False, True, True, False]
    among = typed({"wait": {"in": ["1h", "PT2H"]}, "order_date": {"not_in": ["2026-01-01"]}})
    assert [hits(among, wait=w, order_date="2026-01-02") for w in ("1h", "2h", "1h1s")] == [True, True, False]
    assert not hits(among, wait="1h", order_date="2026-01-01")


@pytest.mark.parametrize(("days", "within", "older"), [(29, True, False), (30, True, False), (31, False, True), (0, True, False), (-1, False, False)])
def test_within_and_older_than_of_received_at_count_calendar_days_for_a_date(days: int, within: bool, older: bool) -> None:
    """``within: 30d`` holds from the day received (age 0) to 30 days before it, both included; ``older_than: 30d``
    from 31 days on; a date after received_at is neither. A datetime received_at counts as its date in its own offset."""
    order = (date(2026, 11, 23) - timedelta(days=days)).isoformat()
    for received in ("2026-11-23T23:30:00Z", "2026-11-23T00:30:00+01:00"):  # the 23rd where received, whatever the hour in UTC
        assert hits(typed({"order_date": {"within": "30d", "of": "received_at"}}), order_date=order, received_at=received) is within
        assert hits(typed({"order_date": {"older_than": "30d", "of": "received_at"}}), order_date=order, received_at=received) is older


@pytest.mark.parametrize(("offset", "within", "older"), [(-SECOND, True, False), (timedelta(0), True, False), (SECOND, False, True)])
def test_within_and_older_than_of_received_at_are_exact_for_a_datetime(offset: timedelta, within: bool, older: bool) -> None:
    opened = datetime(2026, 11, 23, 9, 30, tzinfo=UTC) - timedelta(hours=12) - offset
    complaint = {"opened": opened.isoformat(), "received_at": "2026-11-23T09:30:00Z"}
    assert hits(typed({"opened": {"within": "PT12H", "of": "received_at"}}), **complaint) is within
    assert hits(typed({"opened": {"older_than": "12h", "of": "received_at"}}), **complaint) is older


def test_relative_tests_are_false_without_received_at_and_the_decision_says_so() -> None:
    within = typed({"order_date": {"within": "30d", "of": "received_at"}})
    older = typed({"not": {"order_date": {"within": "30d", "of": "received_at"}}})
    assert not hits(within, order_date="2026-11-20") and hits(older, order_date="2026-11-20")
    decision = within.decide({"severity": "low", "order_date": "2026-11-20"})
    assert decision.facts["received_at"] is None
    assert json.loads(decision.model_dump_json())["facts"]["received_at"] is None
    note = next(rule.note for rule in within.explain({"severity": "low", "order_date": "2026-11-20"}).rules if rule.rule == "hit")
    assert note == "order_date within 30d of received_at: actual 2026-11-20, received_at not given"


def test_within_may_measure_from_another_date_fact() -> None:
    policy = typed({"order_date": {"within": "14d", "of": "delivered"}}, delivered={"type": "date", "default": "2026-11-15"})
    assert [hits(policy, order_date=d) for d in ("2026-11-01", "2026-10-31", "2026-11-16")] == [True, False, False]


def test_list_operators() -> None:
    contains = typed({"tags": {"contains": "vip"}})
    assert [hits(contains, tags=t) for t in ([], ["press"], ["press", "vip"])] == [False, False, True]
    any_of = typed({"tags": {"contains_any": ["vip", "legal"]}})
    assert [hits(any_of, tags=t) for t in ([], ["press"], ["legal"], ["vip", "legal"])] == [False, False, True, True]
    all_of = typed({"tags": {"contains_all": ["vip", "legal"]}})
    assert [hits(all_of, tags=t) for t in (["vip"], ["legal", "vip"], ["vip", "press", "legal"])] == [False, True, True]
    empty = typed({"labels": {"empty": True}})
    assert [hits(empty, labels=t) for t in ([], ["x"])] == [True, False]
    not_empty = typed({"labels": {"empty": False, "contains": "anything"}})
    assert [hits(not_empty, labels=t) for t in ([], ["x"], ["anything"])] == [False, False, True]


# -- errors in policies -----------------------------------------------------------------------------
@pytest.mark.parametrize(("when", "where", "code"), [
    ({"wait": {"gte": "3x"}}, "rules[0].when.wait.gte", "pattern"),
    ({"wait": {"gte": "2026-01-01"}}, "rules[0].when.wait.gte", "type-mismatch"),
    ({"wait": {"gte": "P1M"}}, "rules[0].when.wait.gte", "type-mismatch"),
    ({"wait": {"between": ["3h", "1h"]}}, "rules[0].when.wait.between", "operator"),
    ({"order_date": {"gte": "2h"}}, "rules[0].when.order_date.gte", "type-mismatch"),
    ({"order_date": {"gte": "2026-02-30"}}, "rules[0].when.order_date.gte", "type-mismatch"),
    ({"opened": {"gte": "2026-01-01"}}, "rules[0].when.opened.gte", "type-mismatch"),
    ({"opened": {"gte": "2026-01-01T00:00:00"}}, "rules[0].when.opened.gte", "pattern"),
    ({"tags": {"contains": "vpi"}}, "rules[0].when.tags.contains", "unknown-value"),
    ({"tags": {"contains_any": ["vip", "vip"]}}, "rules[0].when.tags.contains_any", "operator"),
    ({"tags": "vip"}, "rules[0].when.tags", "operator"),
    ({"tags": {"gte": 3}}, "rules[0].when.tags.gte", "operator"),
    ({"wait": {"contains": "x"}}, "rules[0].when.wait.contains", "operator"),
    ({"wait": {"within": "3d", "of": "received_at"}}, "rules[0].when.wait.within", "operator"),
    ({"order_date": {"within": "30d"}}, "rules[0].when.order_date.within", "operator"),
    ({"order_date": {"within": "soon", "of": "received_at"}}, "rules[0].when.order_date.within", "type-mismatch"),
    ({"order_date": {"within": "30d", "of": "recieved_at"}}, "rules[0].when.order_date.of", "unknown-fact"),
    ({"order_date": {"within": "30d", "of": "wait"}}, "rules[0].when.order_date.of", "unknown-fact"),
    ({"order_date": {"gte": "2026-01-01", "of": "received_at"}}, "rules[0].when.order_date.of", "operator"),
    ({"labels": {"empty": "yes"}}, "rules[0].when.labels.empty", "type"),
])
def test_bad_operands_are_located_problems_with_codes(when: dict[str, Any], where: str, code: str) -> None:
    assert policy_problems(when) == [(where, code)]


@pytest.mark.parametrize(("fact", "where", "code"), [
    ({"type": "duration", "default": "soon"}, "facts.wait.default", "fact"),
    ({"type": "date", "default": "2026-13-01"}, "facts.wait.default", "fact"),
    ({"type": "list", "values": ["a"], "default": ["b"]}, "facts.wait.default", "fact"),
    ({"type": "list", "values": ["a", "a"], "default": []}, "facts.wait.values", "unique"),
    ({"type": "duration", "default": "1h", "min": 0}, "facts.wait.min", "fact"),
])
def test_bad_declarations_are_located_problems_with_codes(fact: dict[str, Any], where: str, code: str) -> None:
    assert policy_problems({"severity": "high"}, wait=fact) == [(where, code)]


# -- the tools ----------------------------------------------------------------------------------------
def test_the_command_line_reads_lists_durations_and_dates() -> None:
    policy = typed({"tags": {"contains": "vip"}, "wait": {"gte": "2h"}, "order_date": {"lt": "2026-11-02"}})
    complaint = policy.complaint_from_text({"severity": "low", "tags": "vip, press", "wait": "2h", "order-date": "2026-11-01"})
    assert complaint["tags"] == ["vip", "press"] and policy.decide(complaint).rule == "hit"
    assert policy.complaint_from_text({"labels": ""}) == {"labels": []}


def test_decision_json_writes_the_new_types_as_strings_and_arrays_the_same_for_any_order_of_a_list() -> None:
    policy = typed({"order_date": {"within": "30d", "of": "received_at"}})
    complaint = {"severity": "low", "wait": "2h59m", "order_date": "2026-11-01", "opened": "2026-11-23T10:30:00+01:00",
                 "tags": ["press", "vip"], "labels": ["b", "a"], "received_at": "2026-11-23T09:30:00Z"}
    text = policy.decide_json(complaint)
    assert json.loads(text)["facts"] == {
        "severity": "low", "wait": "PT2H59M", "order_date": "2026-11-01", "opened": "2026-11-23T10:30:00+01:00",
        "tags": ["vip", "press"], "labels": ["a", "b"], "received_at": "2026-11-23T09:30:00Z",
    }
    assert policy.decide_json({**complaint, "tags": ["vip", "press"], "labels": ["a", "b"], "wait": "PT2H59M"}) == text


def test_explain_shows_actual_values_in_the_policys_words() -> None:
    policy = typed({"wait": {"gte": "3h"}, "tags": {"contains": "vip"}})
    notes = [r.note for r in policy.explain({"severity": "low", "wait": "PT2H59M", "tags": ["press"]}).rules]
    assert notes[0] == "wait gte 3h: actual 2h59m"
    notes = [r.note for r in policy.explain({"severity": "low", "wait": "3h", "tags": ["press"]}).rules]
    assert notes[0] == "tags contains vip: actual [press]"
    relative = typed({"order_date": {"within": "30d", "of": "received_at"}})
    for order, said in (("2026-09-01", "83d before"), ("2026-12-01", "8d after")):
        why = relative.explain({"severity": "low", "order_date": order, "received_at": "2026-11-23T09:30:00Z"})
        assert why.rules[0].note == f"order_date within 30d of received_at: actual {order}, {said} received_at 2026-11-23T09:30:00Z"


def test_rationales_quote_the_new_types_as_people_write_them() -> None:
    policy = make_policy(facts=FACTS, rules=[
        {"id": "hit", "when": {"wait": {"gte": "1h"}}, "then": {"action": "pay", "gestures": ["apology"], "respond_within": "1h",
                                                           "rationale": "Waited {wait} since {opened}; tags {tags}; ordered {order_date}."}},
        {"id": "fallback", "default": True, "then": {"action": "sorry", "gestures": ["apology"], "respond_within": "1d"}},
    ])
    decision = policy.decide({"severity": "low", "wait": "PT90M", "tags": ["vip"], "order_date": "2026-11-01"})
    assert decision.reasons == ("Waited 1h30m since 2026-01-01T00:00:00Z; tags [vip]; ordered 2026-11-01.",)


def test_gesture_test_expects_facts_of_the_new_types(tmp_path: Path) -> None:
    from textwrap import dedent

    from gesture_engine import load_policy
    from gesture_engine.tools.testing import load_suite, run_suite
    from tests.conftest import policy_text

    folder = tmp_path / "typed"
    (folder / "tests").mkdir(parents=True)
    (folder / "policy.yaml").write_text(policy_text(facts=FACTS, rules=[
        {"id": "hit", "when": {"tags": {"contains": "vip"}}, "then": {"action": "pay", "gestures": ["apology"], "respond_within": "1h"}},
        {"id": "fallback", "default": True, "then": {"action": "sorry", "gestures": ["apology"], "respond_within": "1d"}},
    ]), encoding="utf-8")
    (folder / "tests" / "cases.yaml").write_text(dedent("""\
        cases:
          - name: vip waited
            complaint: {severity: low, tags: [press, vip], wait: PT2H, order_date: 2026-11-01}
            expect: {rule: hit, facts: {tags: [vip, press], wait: 2h, order_date: 2026-11-01}}
          - name: wrong expectation
            complaint: {severity: low, wait: 2h}
            expect: {facts: {wait: 3h, tags: [vip]}}
        """), encoding="utf-8")
    policy = load_policy(folder)
    result = run_suite(policy, load_suite(policy, [folder / "tests" / "cases.yaml"]))
    assert (result.passed, result.failed) == (1, 1)
    failure = next(case for case in result.cases if not case.passed)
    assert [(m.field, m.expected, m.actual) for m in failure.mismatches] == [("facts.wait", "3h", "2h"), ("facts.tags", "[vip]", "[]")]


def test_lint_cuts_lists_and_durations_exactly_and_takes_relative_tests_apart() -> None:
    policy = make_policy(facts=FACTS, rules=[
        {"id": "any-vip", "when": {"tags": {"contains_any": ["vip", "press"]}}, "then": {"action": "pay", "respond_within": "1h"}},
        {"id": "vip", "when": {"tags": {"contains": "vip"}, "wait": {"gte": "3h"}}, "then": {"action": "pay", "respond_within": "1h"}},
        {"id": "recent", "when": {"order_date": {"within": "30d", "of": "received_at"}}, "then": {"action": "pay", "respond_within": "1h"}},
        {"id": "recent-long", "when": {"order_date": {"within": "30d", "of": "received_at"}, "wait": {"gt": "PT3H"}},
         "then": {"action": "pay", "respond_within": "1h"}},
        {"id": "older", "when": {"order_date": {"older_than": "30d", "of": "received_at"}}, "then": {"action": "pay", "respond_within": "1h"}},
        {"id": "fallback", "default": True, "then": {"action": "sorry", "respond_within": "1d"}},
    ])
    report = lint(policy)
    assert sorted((f.code, f.rule) for f in report.findings if f.code in ("GE101", "GE102")) == [("GE101", "recent-long"), ("GE101", "vip")]
    gaps = [f.message for f in report.findings if f.code == "GE104"]
    assert gaps and all("order_date older_than 30d of received_at = false" in gap for gap in gaps)  # both false: no received_at


@pytest.mark.parametrize("kind", ["duration", "date", "datetime"])
def test_every_time_cell_holds_its_representative(kind: str) -> None:
    base: Any = {"duration": timedelta(hours=1), "date": date(2026, 1, 1), "datetime": datetime(2026, 1, 1, tzinfo=UTC)}[kind]
    step = DAY if kind == "date" else SECOND
    constants = [base, base + step, base + 10 * step]
    split = domain_cells(Fact("x", kind), constants)
    for cell in range(len(split)):
        if split.empty(cell):
            assert kind != "datetime"
            continue
        assert split.cell(split.representative(cell)) == cell


def test_gesture_decide_takes_lists_durations_and_dates_as_options(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from gesture_cli.main import cli
    from tests.conftest import policy_text

    path = tmp_path / "typed.yaml"
    path.write_text(policy_text(facts=FACTS, rules=[
        {"id": "hit", "when": {"tags": {"contains": "vip"}, "wait": {"gte": "2h"}, "order_date": {"within": "30d", "of": "received_at"}},
         "then": {"action": "pay", "gestures": ["apology"], "respond_within": "1h"}},
        {"id": "fallback", "default": True, "then": {"action": "sorry", "gestures": ["apology"], "respond_within": "1d"}},
    ]), encoding="utf-8")
    base = ["decide", "-p", str(path), "--severity", "low", "--json"]
    result = CliRunner().invoke(cli, [*base, "--tags", "press,vip", "--wait", "PT2H", "--order-date", "2026-11-01",
                                      "--received-at", "2026-11-23T09:30:00Z"])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert (decision["rule"], decision["facts"]["tags"], decision["facts"]["wait"]) == ("hit", ["vip", "press"], "PT2H")
    refused = CliRunner().invoke(cli, [*base, "--tags", "vip,vip", "--wait", "2 hours", "--opened", "2026-11-01T09:00"])
    assert refused.exit_code == 3
    assert [line.split(":")[1].strip() for line in refused.stderr.splitlines() if line.startswith("complaint:")] == ["wait", "opened", "tags"]


def test_diff_sees_through_how_a_duration_or_list_is_written() -> None:
    from gesture_engine.tools import diff_policies

    old = typed({"wait": {"gte": "3h"}, "tags": {"contains_any": ["vip", "press"]}})
    same = diff_policies(old, typed({"wait": {"gte": "PT3H"}, "tags": {"contains_any": ["press", "vip"]}})).changes
    assert [c.section for c in same] == ["policy"]  # only the fingerprint: the text differs, the rules do not
    changed = diff_policies(old, typed({"wait": {"gte": "PT3H1S"}, "tags": {"contains_any": ["press", "vip"]}})).changes
    assert [(c.section, c.id) for c in changed] == [("rule", "hit")]
