"""The package's front doors: the core from ``gesture_engine``, the authoring tools from ``gesture_engine.tools``."""

from __future__ import annotations

import doctest

import pytest

import gesture_engine
import gesture_engine.tools
from gesture_engine import PolicyError, loads_policy
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
