"""Huge hostile input costs bounded work and gets a report of readable size (issue 14).

A 50 MB complaint with one bad enum value took 2.2 GB and 18 s (the "did you mean" search ran over
the whole string); 3 million unknown keys took minutes and printed 3 million lines. Now suggestions
are made only for short words, a complaint keeps its first MAX_PROBLEMS problems and counts the
rest, and every report lists at most MAX_LISTED problems, then how many more there are.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import ComplaintError, Policy, PolicyError, loads_policy
from gesture_engine.complaint import parse_complaint_json
from gesture_engine.engine.facts import SUGGEST_LENGTH, did_you_mean
from gesture_engine.errors import MAX_LISTED, MAX_PROBLEMS
from tests.conftest import MINIMAL

OK = {"severity": "low", "channel": "email"}


def refused(policy: Policy, complaint: object) -> ComplaintError:
    with pytest.raises(ComplaintError) as caught:
        policy.decide(complaint)  # type: ignore[arg-type]
    return caught.value


def test_suggestions_only_for_short_words() -> None:
    assert did_you_mean("hihg", ["low", "high"]) == " (did you mean 'high'?)"
    near = "high" + "x" * (SUGGEST_LENGTH - 5)
    assert did_you_mean(near, ["low", "high" + "x" * (SUGGEST_LENGTH - 4)]) != ""
    assert did_you_mean(near + "xx", ["low", near + "x"]) == ""  # one longer than the limit: not even tried
    assert did_you_mean("x" * 10_000_000, ["low", "high"]) == ""
    assert did_you_mean("abc", [1, None, "abd"]) == " (did you mean 'abd'?)"  # choices that are not words are skipped


def test_a_huge_bad_enum_value_is_reported_in_a_line(default_policy: Policy) -> None:
    error = refused(default_policy, {**OK, "severity": "hihg" + "x" * 5_000_000})
    (problem,) = error.problems
    assert (problem.field, problem.code) == ("severity", "wrong_type")
    assert "did you mean" not in problem.message and len(problem.message) < 200


def test_a_huge_unknown_key_is_named_short(default_policy: Policy) -> None:
    error = refused(default_policy, {**OK, "k" * 10_000_000: 1})
    (problem,) = error.problems
    assert problem.code == "unknown_field" and len(problem.field) <= 80 and problem.field.endswith("...")
    assert len(str(error)) < 300


def test_many_unknown_keys_keep_the_first_problems_and_count_the_rest(default_policy: Policy) -> None:
    complaint = {**OK, **{f"k{i:05d}": i for i in range(3000)}}
    error = refused(default_policy, complaint)
    assert len(error.problems) == MAX_PROBLEMS and error.more == 3000 - MAX_PROBLEMS and error.count == 3000
    assert [p.field for p in error.problems[:2]] == ["k00000", "k00001"]
    lines = str(error).splitlines()
    assert lines[0] == "complaint has 3000 problems"
    assert len(lines) == 1 + MAX_LISTED + 1 and lines[-1] == f"  ... and {3000 - MAX_LISTED} more problems"
    assert error.to_dict()["more_problems"] == 3000 - MAX_PROBLEMS and len(error.to_dict()["problems"]) == MAX_PROBLEMS  # type: ignore[arg-type]


def test_a_few_problems_are_all_listed(default_policy: Policy) -> None:
    error = refused(default_policy, {**OK, "a": 1, "b": 2})
    assert error.more == 0 and "more_problems" not in error.to_dict() and "... and" not in str(error)


def test_many_repeated_keys_are_counted_too() -> None:
    text = "{" + ", ".join(f'"k{i}": 1, "k{i}": 2' for i in range(400)) + "}"
    with pytest.raises(ComplaintError) as caught:
        parse_complaint_json(text)
    assert (len(caught.value.problems), caught.value.count) == (MAX_PROBLEMS, 400)
    assert {p.code for p in caught.value.problems} == {"repeated_key"}


def test_a_complaint_with_too_many_keys_is_not_kept_by_the_plan_cache(default_policy: Policy) -> None:
    reader = default_policy._read  # the policy's ComplaintReader
    before = reader.plan.cache_info()
    refused(default_policy, {**OK, **{f"k{i}": i for i in range(5000)}})
    after = reader.plan.cache_info()
    assert (after.currsize, after.misses) == (before.currsize, before.misses + 1)  # asked for, refused, not kept


def test_the_command_line_lists_the_first_problems(tmp_path: Path) -> None:
    path = tmp_path / "complaint.json"
    path.write_text(json.dumps({**OK, **{f"k{i:04d}": i for i in range(1000)}}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["decide", str(path), "--json"])
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert len(lines) == MAX_LISTED + 2
    assert lines[-2:] == [f"complaint: ... and {1000 - MAX_LISTED} more problems", "gesture: complaint has 1000 problem(s)"]


def test_policy_errors_keep_every_problem_and_list_the_first(tmp_path: Path) -> None:
    gestures = ", ".join(f"g{i:03d}" for i in range(80))
    text = MINIMAL.replace("gestures: [apology, credit]", f"gestures: [apology, credit, {gestures}]")
    with pytest.raises(PolicyError) as caught:
        loads_policy(text, name="p.yaml")
    error = caught.value
    assert len(error.problems) == 80 and {p.code for p in error.problems} == {"unknown-gesture"}
    lines = str(error).splitlines()
    assert lines[0] == "policy has 80 problems" and len(lines) == 1 + MAX_LISTED + 1 and lines[-1] == "  ... and 30 more problems"
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 4
    assert result.stdout.splitlines()[-1] == "... and 30 more problems" and len(result.stdout.splitlines()) == MAX_LISTED + 1
    assert "80 problem(s) found" in result.stderr
    assert len(json.loads(CliRunner().invoke(cli, ["validate", "--json", str(path)]).stdout)[0]["problems"]) == 80
