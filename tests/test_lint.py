"""gesture_engine.tools.lint: every finding fires on a fixture, the default policy is clean, and the
analysis agrees with the engine on every cell of the default policy's input space."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import Policy, load_policy
from gesture_engine.engine.budget import BudgetSpec
from gesture_engine.tools.lint import CODES, Finding, _Linter, _partition, lint, lint_path
from tests.conftest import MINIMAL

FIXTURES = Path(__file__).parent / "fixtures" / "lint"


def codes(findings: tuple[Finding, ...], rule: str | None = None) -> list[str]:
    return sorted(f.code for f in findings if rule is None or f.rule == rule)


def test_default_policy_lints_clean_and_exact() -> None:
    report = lint_path()
    assert report.exact and report.count("error") == 0 and report.count("warning") == 0
    # info only: the default rule's intended region, and enum values deliberately treated alike
    assert {f.code for f in report.findings} <= {"GE104", "GE205"}
    gap = [f for f in report.findings if f.code == "GE104"]
    assert len(gap) == 1
    assert gap[0].message.endswith(
        "answers when severity in [low] and customer_value < 500 and channel in [email, phone, chat] and "
        "issue_type in [service_failure, product_defect, delivery_delay, billing_error, other]"
    )


def test_unreachable_and_contradictory_rules_are_errors() -> None:
    report = lint_path(FIXTURES / "unreachable.yaml")
    assert codes(report.findings, "high-only") == ["GE101"]
    assert "earlier rule(s) serious match every complaint" in next(f.message for f in report.findings if f.rule == "high-only")
    assert codes(report.findings, "low-and-high") == ["GE102"]
    assert codes(report.findings, "between-whole-numbers") == ["GE102"]  # no integer lies in (5, 6)
    assert codes(report.findings, "between-real-numbers") == []  # but 5.5 does
    assert codes(report.findings, "never-collected") == ["GE102"]
    assert report.failed() and report.count("error") == 4


def test_findings_carry_file_line_and_sort_by_position() -> None:
    report = lint_path(FIXTURES / "unreachable.yaml")
    first = next(f for f in report.findings if f.rule == "high-only")
    assert first.file.endswith("unreachable.yaml") and first.line == 23
    assert str(first).startswith(f"{first.file}:23: GE101: error: rule 'high-only'")
    assert list(report.findings) == sorted(report.findings)


def test_unused_definitions_and_dead_derived_rows() -> None:
    report = lint_path(FIXTURES / "unused.yaml")
    def has(code: str, text: str) -> bool:
        return any(f.code == code and text in f.message for f in report.findings)

    assert has("GE201", "gesture 'gift'")
    assert has("GE202", "action 'unused_action'")
    assert has("GE203", "fact 'forgotten'")
    assert has("GE204", "derived fact 'reach'")
    assert has("GE206", "approval level 'board'")
    assert any(f.code == "GE111" and "row 2 of derived fact tier" in f.message for f in report.findings)
    assert any(f.code == "GE112" and "'platinum'" in f.message for f in report.findings)
    unmentioned = [f.message for f in report.findings if f.code == "GE205"]
    assert any(m.startswith("channel value(s) phone, press") for m in unmentioned)
    # a level covered by an at_least range counts as mentioned
    assert any(m.startswith("severity value(s) low ") for m in unmentioned)


def test_budget_ladder_and_monetary_findings() -> None:
    report = lint_path(FIXTURES / "budgets.yaml")
    assert codes(report.findings) == sorted(["GE103", "GE302", "GE303", "GE303", "GE311", "GE312", "GE401", "GE402", "GE403"])
    assert codes(report.findings, "credit-for-vips") == ["GE402"]
    assert "rule(s) pay-without-budget decide with no budget" in next(f.message for f in report.findings if f.code == "GE402")
    assert not report.failed() and report.failed(strict=True)


def test_budget_min_above_max_is_an_error_even_if_the_loader_let_it_through() -> None:
    policy = load_policy(FIXTURES / "complete.yaml")
    rules = tuple(
        dataclasses.replace(r, budget=BudgetSpec(Decimal(5), minimum=Decimal(60), maximum=Decimal(50))) if r.id == "high" else r
        for r in policy.rules
    )
    broken = Policy(dataclasses.replace(policy.compiled, rules=rules))
    assert "GE301" in codes(lint(broken).findings)


def test_gaps_are_merged_into_readable_regions() -> None:
    report = lint_path(FIXTURES / "gaps.yaml")
    gaps = [f.message.split(" answers when ")[1] for f in report.findings if f.code == "GE104"]
    assert gaps == [
        "severity in [low] and audience < 1000 and (spend < 100 or spend > 500) and country not in [CA, US]",
        "severity in [low] and audience < 1000 and 100 <= spend <= 500 and repeat = false and country not in [CA, US]",
    ]


def test_gap_count_is_capped() -> None:
    report = lint(load_policy(FIXTURES / "gaps.yaml"), max_gaps=1)
    gaps = [f for f in report.findings if f.code == "GE104"]
    assert len(gaps) == 2 and sum(f.message.startswith("more regions") for f in gaps) == 1


def test_complete_coverage_means_the_default_never_answers() -> None:
    assert codes(lint_path(FIXTURES / "complete.yaml").findings) == ["GE103"]


def test_large_spaces_fall_back_to_rule_by_rule_and_say_so() -> None:
    report = lint(load_policy(FIXTURES / "unreachable.yaml"), max_cells=10)
    assert not report.exact and "GE100" in codes(report.findings)
    assert codes(report.findings, "high-only") == ["GE101"]
    assert codes(report.findings, "between-whole-numbers") == ["GE102"]
    assert "GE104" not in codes(report.findings)


def test_numeric_partition_cuts_at_thresholds_and_drops_empty_integer_intervals() -> None:
    policy = load_policy(FIXTURES / "unreachable.yaml")
    audience = policy.facts["audience"]
    tests = [t for r in policy.rules for t in r.when.tests() if t.fact == "audience"]
    part = _partition(audience, tests)
    assert [label[:2] + label[2:] for label in part.labels][:3] == [(0, True, 5, False), (5, True, 5, True), (6, True, 6, True)]
    for rep, (low, low_closed, high, high_closed) in zip(part.reps, part.labels, strict=True):
        assert (low <= rep if low_closed else low < rep) and (rep <= high if high_closed else rep < high)


@pytest.mark.parametrize("name", ["default", "gaps.yaml", "unreachable.yaml"])
def test_analysis_agrees_with_the_engine_on_every_cell(name: str) -> None:
    """Decide one representative complaint per cell: the winner must be the one lint computed."""
    policy = load_policy(None if name == "default" else FIXTURES / name)
    linter = _Linter(policy, None, 10**6, 10)
    space = linter.space(linter.inputs_of(r.when for r in policy.rules))
    first = [r for r in policy.rules if r.hit == "first"]
    default = next(r for r in policy.rules if r.hit == "default")
    covered, wins = 0, []
    for rule in first:
        cells = space.mask(rule.when)
        wins.append((rule.id, cells & ~covered))
        covered |= cells
    for cell in range(space.total):
        complaint = {p.fact.name: p.reps[(cell // space.strides[i]) % space.sizes[i]] for i, p in enumerate(space.parts)}
        for fact in policy.facts.values():
            if fact.required and fact.name not in complaint:
                complaint[fact.name] = fact.values[0] if fact.values else 0
        expected = next((rid for rid, m in wins if m >> cell & 1), default.id)
        assert policy.decide(complaint).rule == expected, complaint


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


def test_cli_exit_codes() -> None:
    assert run("lint")[0] == 0
    assert run("lint", str(FIXTURES / "unreachable.yaml"))[0] == 1
    assert run("lint", str(FIXTURES / "budgets.yaml"))[0] == 0
    assert run("lint", "--strict", str(FIXTURES / "budgets.yaml"))[0] == 1


def test_cli_invalid_policy_exits_4(write_policy: Callable[..., Path]) -> None:
    path = write_policy(MINIMAL.replace("gestures: [apology, credit]", "gestures: [apology, credi]"))
    assert run("lint", str(path))[0] == 4


def test_cli_text_and_json() -> None:
    code, out = run("lint", str(FIXTURES / "unreachable.yaml"))
    lines = out.splitlines()
    assert lines == sorted(lines, key=lambda line: int(line.split(":")[1])) and all(": GE1" in line for line in lines)
    code, out = run("lint", "--json", str(FIXTURES / "unreachable.yaml"))
    data = json.loads(out)
    assert code == 1 and data["exact"] and data["counts"]["error"] == 4
    assert {f["code"] for f in data["findings"]} <= set(CODES)
    assert all(f["severity"] == CODES[f["code"]][1] and f["name"] == CODES[f["code"]][0] for f in data["findings"])


def test_a_part_of_a_condition_always_true_where_it_stands_is_reported() -> None:
    from gesture_engine.tools import lint as lint_policy
    from tests.conftest import make_policy

    def ge106(rules: list[object]) -> list[str]:
        return [f.message for f in lint_policy(make_policy(rules=rules)).findings if f.code == "GE106"]

    fallback = {"id": "fallback", "default": True, "then": {"action": "sorry"}}
    vacuous = {"id": "email", "when": {"channel": "email", "severity": {"at_least": "low"}}, "then": {"action": "pay"}}
    assert ge106([vacuous, fallback]) == ["rule 'email': severity at_least low always holds where the rule stands "
                                          "(for every complaint that gets this far and matches the rest): leave it out"]
    # after a rule taking the high ones, "not high" is what every complaint reaching the next rule is
    after = [{"id": "high", "when": {"severity": "high"}, "then": {"action": "pay"}},
             {"id": "rest", "when": {"channel": "email", "severity": {"at_most": "medium"}}, "then": {"action": "pay"}}, fallback]
    [message] = ge106(after)
    assert message.startswith("rule 'rest': severity at_most medium always holds where the rule stands")
    needed = [{"id": "medium", "when": {"channel": "email", "severity": {"at_least": "medium"}}, "then": {"action": "pay"}}, fallback]
    assert ge106(needed) == []
