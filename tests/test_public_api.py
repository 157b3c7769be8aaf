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
