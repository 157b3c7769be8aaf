"""The package's front doors: the core from ``gesture_engine``, the authoring tools from ``gesture_engine.tools``."""

from __future__ import annotations

import doctest
import json
from decimal import Decimal
from pathlib import Path

import pytest

import gesture_engine
import gesture_engine.tools
from gesture_engine import ComplaintError, GestureError, PolicyError, loads_policy
from gesture_engine.tools import PolicyTestError, load_suite
from tests.conftest import MINIMAL


def test_the_package_exports_the_core_only() -> None:
    for name in gesture_engine.__all__:
        assert hasattr(gesture_engine, name), name
    assert not {"lint", "run_suite", "coverage_of", "diff_policies", "Explanation"} & set(gesture_engine.__all__)
    for name in gesture_engine.tools.__all__:
        assert hasattr(gesture_engine.tools, name), name


@pytest.mark.parametrize("module", [gesture_engine, gesture_engine.tools])
def test_the_examples_in_the_package_docs_run(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


def test_loads_policy_reads_yaml_text() -> None:
    policy = loads_policy(MINIMAL, name="tiny.yaml")
    assert policy.decide({"severity": "high"}).rule == "high"
    assert policy.fingerprint == loads_policy(MINIMAL).fingerprint


def test_loads_policy_locates_problems_in_the_named_text() -> None:
    with pytest.raises(PolicyError) as info:
        loads_policy(MINIMAL.replace("at_least: high", "at_least: hihg"), name="from-db")
    [problem] = info.value.problems
    assert (problem.file, problem.line, problem.code) == ("from-db", 22, "unknown-value")


def test_a_decision_reads_back_from_its_json_unchanged(default_policy: gesture_engine.Policy) -> None:
    complaint = {"severity": "high", "channel": "social_media", "audience": 250_000, "order_value": "80.15",
                 "complaint_id": "c-1", "received_at": "2026-12-01T09:30:00Z"}
    decision = default_policy.decide(complaint)
    text = decision.model_dump_json()
    again = gesture_engine.Decision.model_validate_json(text)
    assert again == decision and hash(again) == hash(decision)
    assert again.model_dump_json() == text
    assert again.budget.steps == decision.budget.steps and again.reasons == decision.reasons
    other = default_policy.decide({**complaint, "order_value": "80.16"})
    assert other != decision


def test_a_one_row_ladder_says_its_level_approves_every_budget() -> None:
    one_row = MINIMAL.replace("    - {up_to: 50, level: agent}\n    - {level: manager}", "    - {level: manager}")
    decision = loads_policy(one_row).decide({"severity": "high"})
    assert decision.approval.level == "manager"
    assert decision.approval.reasons == ("budget 40.00 USD: manager approves every budget (the ladder has one row)",)


def test_bad_input_errors_are_value_errors_and_gesture_errors(tmp_path: Path) -> None:
    """Integrators map ValueError to a client error; each error still carries its located problems."""
    policy = loads_policy(MINIMAL)
    with pytest.raises(ValueError) as complaint:
        policy.decide({"severity": "extreme"})
    assert isinstance(complaint.value, ComplaintError) and isinstance(complaint.value, GestureError)
    assert [(p.field, p.code) for p in complaint.value.problems] == [("severity", "wrong_type")]

    with pytest.raises(ValueError) as bad_policy:
        loads_policy(MINIMAL.replace("at_least: high", "at_least: hihg"), name="p")
    assert isinstance(bad_policy.value, PolicyError) and isinstance(bad_policy.value, GestureError)
    assert [(p.line, p.code) for p in bad_policy.value.problems] == [(22, "unknown-value")]

    tests = tmp_path / "t.yaml"
    tests.write_text("cases:\n  - {name: x, complaint: {severity: high}, expect: {acton: pay}}\n", encoding="utf-8")
    with pytest.raises(ValueError) as bad_tests:
        load_suite(policy, [tests])
    assert isinstance(bad_tests.value, PolicyTestError) and isinstance(bad_tests.value, GestureError)
    assert [(p.line, p.path, p.code) for p in bad_tests.value.problems] == [(2, "cases[0].expect.acton", "unknown-key")]


def test_a_decision_names_itself_by_its_policy_and_complaint(default_policy: gesture_engine.Policy) -> None:
    complaint = {"severity": "high", "channel": "email", "customer_value": "800.00", "received_at": "2026-12-01T10:00:00+01:00"}
    decision = default_policy.decide(complaint)
    assert decision.received_at is not None and decision.received_at.isoformat() == "2026-12-01T10:00:00+01:00"
    same = gesture_engine.load_policy().decide({**complaint, "customer_value": 800, "received_at": "2026-12-01T09:00:00Z"})
    assert len(decision.decision_id) == 32 and decision.decision_id == same.decision_id  # the same amount, the same moment
    assert default_policy.decide({**complaint, "customer_value": "800.01"}).decision_id != decision.decision_id
    assert json.loads(decision.model_dump_json())["decision_id"] == decision.decision_id


def test_a_decision_dumps_to_plain_json_data_by_default(default_policy: gesture_engine.Policy) -> None:
    decision = default_policy.decide({"severity": "high", "channel": "email", "order_value": "80.15", "received_at": "2026-12-01T09:30:00Z"})
    assert json.loads(json.dumps(decision.model_dump())) == json.loads(decision.model_dump_json())
    assert isinstance(decision.model_dump(mode="python")["budget"]["amount"], Decimal)


IDS_POLICY = """policy: ids
version: "1.0.0"
currency: USD
budget_cap: 500
facts:
  severity: {type: level, values: [low, high], required: true}
  tags: {type: list, values: [vip, press], default: []}
  order_value: {type: money, default: 0}
  audience: {type: integer, min: 0, default: 0}
  waited: {type: duration, default: 0s}
gestures:
  apology: {label: Apology}
actions:
  say_sorry: {label: Say sorry}
rules:
  - id: default
    default: true
    then: {action: say_sorry, gestures: [apology], respond_within: 1d}
"""


def test_a_decisions_id_stays_what_ledgers_and_logs_stored() -> None:
    """Ledgers and decision logs keep decision ids: the canonical complaint and its id are pinned, so any
    change to them (a faster writer, a new value type) is a deliberate one."""
    decision = gesture_engine.loads_policy(IDS_POLICY).decide({
        "severity": "high", "tags": ["press", "vip"], "order_value": "80.50", "audience": 12, "waited": "2h30m",
        "complaint_id": "c-1", "customer_id": "k-9", "received_at": "2026-12-01T10:00:00.250000+01:00", "locale": "fr-CA"})
    assert decision.canonical_complaint() == (
        '{"complaint_id":"c-1","customer_id":"k-9","facts":{"audience":12,"order_value":"80.5","severity":"high",'
        '"tags":["vip","press"],"waited":"9000s"},"locale":"en","received_at":"2026-12-01T09:00:00.250000+00:00"}')
    assert decision.decision_id == "31696cf3e59533d8646d86dc32db961a"
