"""Hostile policies are refused with located problems, never a crash, a hang or a silent load.

The corpus is data: tests/hostile/policies/ holds one case per file (or directory) and
tests/hostile/expectations.yaml says what each must report (format documented at its top).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import PolicyError, Problem, load_policy
from gesture_engine.load import source as loader
from gesture_engine.load.source import MAX_NODES

HOSTILE = Path(__file__).parent / "hostile"
CASES = HOSTILE / "policies"
EXPECTATIONS: dict[str, dict[str, Any]] = yaml.safe_load((HOSTILE / "expectations.yaml").read_text(encoding="utf-8"))
_EXPECTED = re.compile(r"^(?:(?P<file>[^\s:]*[^\s:\d][^\s:]*):)?(?P<line>\d+)(?::(?P<column>\d+))? (?P<code>[a-z0-9-]+)(?: (?P<text>.+))?$")
PARSERS = {"default": loader.PARSER, "pure-python": yaml.SafeLoader}


@pytest.fixture(params=sorted(PARSERS))
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with each YAML parser: the results must not depend on whether libyaml is installed."""
    monkeypatch.setattr(loader, "PARSER", PARSERS[request.param])
    return str(request.param)


def _problems(case: str) -> tuple[Problem, ...]:
    options = {k: v for k, v in EXPECTATIONS[case].items() if k == "max_file_bytes"}
    with pytest.raises(PolicyError) as info:
        load_policy(CASES / case, **options)
    return info.value.problems


def _shown(problem: Problem) -> str:
    return f"{problem.path}: {problem.message}" if problem.path else problem.message


def _expected(case: str, entry: str) -> tuple[str, int, int | None, str, str]:
    """An expectation as (file, line, column or None, code, text)."""
    match = _EXPECTED.match(entry)
    assert match, f"bad expectation {entry!r}"
    assert (match["column"] is None) == (match["code"] == "yaml-syntax"), f"{entry!r}: give a column exactly when the location is ours"
    file = CASES / case / match["file"] if match["file"] else CASES / case
    column = int(match["column"]) if match["column"] else None
    return os.fspath(file), int(match["line"]), column, match["code"], match["text"] or ""


def test_every_case_has_expectations_and_every_expectation_a_case() -> None:
    on_disk = {p.name for p in CASES.iterdir()}
    assert on_disk == set(EXPECTATIONS)


@pytest.mark.parametrize("case", sorted(EXPECTATIONS))
def test_hostile_policy_is_refused_with_located_problems(case: str, parser: str) -> None:
    expected = EXPECTATIONS[case]
    problems = _problems(case)
    report = "\n".join(f"{p} [{p.code}]" for p in problems)
    for entry in expected["problems"]:
        file, line, column, code, text = _expected(case, entry)
        assert any(
            (p.file, p.line, p.code) == (file, line, code) and column in (None, p.column) and text in _shown(p) for p in problems
        ), f"expected {entry!r} in:\n{report}"
    if "count" in expected:
        assert len(problems) == expected["count"], report


@pytest.mark.parametrize("case", sorted(c for c, e in EXPECTATIONS.items() if "max_file_bytes" not in e))
def test_validate_exits_4_without_a_traceback(case: str) -> None:
    result = CliRunner().invoke(cli, ["validate", os.fspath(CASES / case)])
    assert result.exit_code == 4, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    file, line, _, _, text = _expected(case, EXPECTATIONS[case]["problems"][0])
    assert f"{file}:{line}:" in result.output
    assert text in result.output


def test_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    """A file one byte over the limit is refused; at the limit it is parsed (and here, valid)."""
    source = (CASES / "too_large.yaml").read_bytes()
    path = tmp_path / "policy.yaml"
    path.write_bytes(source)
    assert load_policy(path, max_file_bytes=len(source)).name == "mini"
    with pytest.raises(PolicyError, match=f"file is {len(source)} bytes; the limit is {len(source) - 1}"):
        load_policy(path, max_file_bytes=len(source) - 1)


def test_size_limit_applies_to_each_file_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("policy: split\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("# " + "x" * 200 + "\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path, max_file_bytes=100)
    assert [(Path(p.file).name, p.code) for p in info.value.problems] == [("b.yaml", "file-size")]


def test_absurd_budget_arithmetic_would_have_crashed_deciding(tmp_path: Path) -> None:
    """Regression: factors of 10^12 used to load, then raise decimal.InvalidOperation in decide."""
    text = (CASES / "absurd_amounts.yaml").read_text(encoding="utf-8")
    text = text.replace("budget_cap: 1.0e+400", "budget_cap: 100")
    text = text.replace("budget: 99999999999999999999999999999999999999999999", "budget: 5")
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert [p.code for p in info.value.problems] == ["budget"]
    # one multiplier fewer stays within 40-digit arithmetic, loads and decides
    path.write_text(text.replace("          - {by: severity, values: {low: 1000000000000, high: 1000000000000}}\n", "", 1), encoding="utf-8")
    assert str(load_policy(path).decide({"severity": "high"}).budget.amount) == "100.00"


def test_a_document_with_too_many_values_is_refused_while_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No aliases, just a big file: the value limit stops it long before schema checks."""
    limit = 5_000  # the real MAX_NODES is large enough for 10,000-rule policies; the check is the same
    monkeypatch.setattr(loader, "MAX_NODES", limit)
    path = tmp_path / "big.yaml"
    path.write_text("policy: big\nfacts: [" + "1, " * (limit + 10) + "1]\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert [p.code for p in info.value.problems] == ["yaml-size"]
    assert f"more than {limit} values" in info.value.problems[0].message
    assert MAX_NODES >= 1_000_000


def test_aliases_may_share_small_values(tmp_path: Path) -> None:
    """Aliases are allowed (within the limit): a shared lookup is ordinary YAML reuse."""
    text = (CASES / "too_large.yaml").read_text(encoding="utf-8")
    text = text.replace("then: {action: sorry, respond_within: 1d}",
                        "then: {action: sorry, respond_within: 1d, budget: {base: &b {by: severity, values: {low: 1, high: 2}},"
                        " multipliers: [*b, *b]}}")
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    assert str(load_policy(path).decide({"severity": "high"}).budget.amount) == "8.00"
