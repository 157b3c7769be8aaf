"""gesture_engine.tools.diff and .revisions: structural diff, git revision specs, replay of JSONL and CSV."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from gesture_cli.main import cli
from gesture_engine import PolicyError, load_policy
from gesture_engine.decision_log import DecisionLog
from gesture_engine.errors import ComplaintError, ComplaintFileError
from gesture_engine.mapping import load_mapping
from gesture_engine.resources import default_policy_path
from gesture_engine.tools.diff import BadLine, Record, diff_policies, mapped, read_replay, replay
from gesture_engine.tools.revisions import RevisionError, is_revision, load_spec

FIXTURES = Path(__file__).parent / "fixtures" / "diff"


def copy_default(target: Path) -> Path:
    shutil.copytree(default_policy_path(), target, ignore=shutil.ignore_patterns("tests"))
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


GOODWILL_BASE = "base: {by: severity, values: {low: 10, medium: 25, high: 40, critical: 40}}"


@pytest.fixture
def changed(tmp_path: Path) -> Path:
    """A copy of the default policy with a bigger goodwill credit and a new version."""
    policy = copy_default(tmp_path / "acme")
    edit(policy / "rules.yaml", GOODWILL_BASE, GOODWILL_BASE.replace("low: 10, medium: 25", "low: 15, medium: 30"))
    edit(policy / "policy.yaml", 'version: "1.0.0"', 'version: "1.1.0"')
    return policy


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
                   cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with two commits of rules/acme: the default, then a bigger goodwill credit."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    policy = copy_default(root / "rules" / "acme")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "v1")
    edit(policy / "rules.yaml", GOODWILL_BASE, GOODWILL_BASE.replace("medium: 25", "medium: 35"))
    git(root, "commit", "-q", "-am", "v2")
    return root


# -- structure --------------------------------------------------------------------------------------

def test_same_policy_has_no_changes() -> None:
    result = diff_policies(load_policy(), load_policy())
    assert not result.changed and result.changes == ()


def test_structural_diff_names_what_changed(changed: Path) -> None:
    rules = changed / "rules.yaml"
    edit(rules, "      respond_within: 1d\n      rationale: >-\n        The item", "      respond_within: 2d\n      rationale: >-\n        The item")
    edit(rules, "  - id: billing-refund", "  - id: billing-refund-renamed")
    edit(changed / "policy.yaml", "    default: 0\n    description: Lifetime", "    default: 100\n    description: Lifetime")
    # move serious-failure before out-of-stock
    text = rules.read_text(encoding="utf-8")
    start, middle, end = text.index("  - id: out-of-stock"), text.index("  - id: serious-failure"), text.index("  - id: goodwill-credit")
    rules.write_text(text[:start] + text[middle:end] + text[start:middle] + text[end:], encoding="utf-8")
    result = diff_policies(load_policy(), load_policy(changed))
    found = {(c.section, c.id, c.kind): c for c in result.changes}
    assert found[("policy", "default", "changed")].fields[0].field == "version"
    budget = found[("rule", "goodwill-credit", "changed")].fields
    assert [f.field for f in budget] == ["budget.base"] and "low: 15, medium: 30" in budget[0].new
    assert [(f.field, f.old, f.new) for f in found[("rule", "out-of-stock", "changed")].fields] == [("respond_within", "1d", "2d")]
    assert ("rule", "billing-refund", "removed") in found and ("rule", "billing-refund-renamed", "added") in found
    assert [(f.field, f.old, f.new) for f in found[("fact", "customer_value", "changed")].fields] == [("default", "0", "100")]
    moved = [c for c in result.changes if c.kind == "moved"]
    assert len(moved) == 1 and moved[0].detail in ("position 3 -> 4", "position 4 -> 3")
    assert result.changed and json.loads(json.dumps(result.to_dict()))["changed"] is True


def test_condition_order_does_not_count_as_a_change(tmp_path: Path) -> None:
    policy = copy_default(tmp_path / "p")
    before = "      visibility: viral\n      severity: {at_least: high}"
    edit(policy / "rules.yaml", before, "      severity: {at_least: high}\n      visibility: viral")
    result = diff_policies(load_policy(), load_policy(policy))
    assert result.changes == ()


# -- revisions --------------------------------------------------------------------------------------

def test_revision_specs_load_from_git_without_touching_the_work_tree(repo: Path) -> None:
    (repo / "rules" / "acme" / "rules.yaml").write_text("work tree edit, not valid YAML: [", encoding="utf-8")
    old, new = load_spec("HEAD~1:rules/acme", cwd=repo), load_spec("HEAD:rules/acme", cwd=repo)
    changes = diff_policies(old, new).changes
    assert [(c.id, [f.field for f in c.fields]) for c in changes] == [("goodwill-credit", ["budget.base"])]
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout.strip() == "M rules/acme/rules.yaml"


def test_revision_of_a_single_file_policy(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q")
    (root / "tiny.yaml").write_text((Path(__file__).parent / "fixtures" / "lint" / "complete.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "one")
    assert load_spec("HEAD:tiny.yaml", cwd=root).name == "lint_complete"


def test_bad_revisions_and_paths_raise_revision_errors(repo: Path) -> None:
    for spec in ("nosuchbranch:rules/acme", "HEAD:rules/missing", "HEAD:", "-x:rules/acme"):
        with pytest.raises(RevisionError):
            load_spec(spec, cwd=repo)
    with pytest.raises(RevisionError, match="not a git repository"):
        load_spec("HEAD:rules/acme", cwd=repo.parent)


def test_invalid_policy_at_a_revision_is_located_by_its_spec(repo: Path) -> None:
    edit(repo / "rules" / "acme" / "rules.yaml", "action: honest_eta", "action: honest_etaa")
    git(repo, "commit", "-q", "-am", "typo")
    with pytest.raises(PolicyError) as caught:
        load_spec("HEAD:rules/acme", cwd=repo)
    assert caught.value.problems[0].file == "HEAD:rules/acme/rules.yaml"


def test_an_existing_path_with_a_colon_is_a_path(tmp_path: Path) -> None:
    policy = copy_default(tmp_path / "odd:name")
    assert not is_revision("odd:name", cwd=tmp_path) and is_revision("HEAD:odd", cwd=tmp_path)
    assert load_spec("odd:name", cwd=tmp_path).name == "default"
    assert policy.exists()


# -- replay -----------------------------------------------------------------------------------------

def test_replay_jsonl_counts_changes_transitions_and_budget(changed: Path) -> None:
    records = list(read_replay(FIXTURES / "complaints.jsonl"))
    bad = [r for r in records if isinstance(r, BadLine)]
    assert [b.line for b in bad] == [21, 31]
    result = replay(load_policy(), load_policy(changed), records, top=3)
    assert result.complaints == 41 and result.bad_lines == 2
    assert result.invalid_old == result.invalid_new == 1  # C-041 has severity 'urgent'
    assert result.changed == 10 and result.transitions == {("goodwill_credit", "goodwill_credit"): 10}
    assert result.budget_delta == Decimal("92.50") and isinstance(result.budget_old, Decimal)
    moved = [(action, delta) for action, _, _, delta in result.action_deltas() if delta]
    assert moved == [("goodwill_credit", Decimal("92.50"))]
    assert [(c.label, c.delta) for c in result.top] == [("C-024", Decimal("20.00")), ("C-035", Decimal("15.00")), ("C-005", Decimal("10.00"))]


def test_replay_reports_complaints_only_one_policy_can_decide(tmp_path: Path) -> None:
    strict = copy_default(tmp_path / "strict")
    edit(strict / "policy.yaml", "  customer_value:\n    type: money\n    default: 0", "  customer_value:\n    type: money\n    required: true")
    records = [Record("a", {"severity": "low", "channel": "email"}), Record("b", {"severity": "low", "channel": "email", "customer_value": 5})]
    result = replay(load_policy(), load_policy(strict), records)
    assert result.changed == 1 and result.invalid_new == 1 and result.decided_both == 1
    assert result.transitions == {("apologise_and_fix", "(invalid)"): 1}


def test_replay_reads_a_decision_log_and_refuses_decisions(tmp_path: Path) -> None:
    policy = load_policy()
    log = tmp_path / "audit.jsonl"
    with DecisionLog(log) as writer:
        for complaint in ({"severity": "low", "channel": "email", "complaint_id": "L-1"}, {"severity": "high", "channel": "press"}):
            writer.append(complaint, policy.decide(complaint))
    records = list(read_replay(log))
    assert [(r.label, r.logged) for r in records if isinstance(r, Record)] == [("L-1", True), ("line 2", True)]
    result = replay(policy, policy, records)
    assert (result.complaints, result.logged, result.invalid_old, result.to_dict()["from_decision_log"]) == (2, 2, 0, 2)
    decisions = tmp_path / "decisions.jsonl"
    decisions.write_text("\n".join(policy.decide_json(r.data) for r in records if isinstance(r, Record)) + "\n", encoding="utf-8")
    with pytest.raises(ComplaintFileError) as info:
        list(read_replay(decisions))
    assert (info.value.line, info.value.code) == (1, "not_complaints")
    code, _, err = run("diff", "rules/default", "rules/default", "--replay", str(decisions))
    assert code == 2 and f"{decisions}:1: is a decision" in err


def test_replay_csv_types_values_with_each_policy(changed: Path) -> None:
    records = list(read_replay(FIXTURES / "complaints.csv"))
    assert [r.line for r in records if isinstance(r, BadLine)] == [14]
    first = next(r for r in records if isinstance(r, Record))
    assert first.label == "C-001" and first.complaint_for(load_policy())["customer_value"] == "3000"
    result = replay(load_policy(), load_policy(changed), records)
    assert result.complaints == 12 and result.invalid_old == 0 and result.changed == 5
    assert result.budget_delta == Decimal("33.75")


@pytest.fixture
def retiered(tmp_path: Path) -> Path:
    """A copy of the default policy whose gold tier starts at 2,000 of customer value, not 2,500."""
    policy = copy_default(tmp_path / "retiered")
    edit(policy / "policy.yaml", "customer_value: {gte: 2500}}", "customer_value: {gte: 2000}}")
    return policy


TIERED = [Record("a", {"severity": "medium", "channel": "email", "customer_value": 2200}),
          Record("b", {"severity": "high", "channel": "chat", "customer_value": 2300, "issue_type": "staff_misconduct"}),
          Record("c", {"severity": "low", "channel": "phone", "customer_value": 50}),
          Record("d", {"severity": "urgent", "channel": "phone"})]


def test_replay_breaks_the_budget_down_by_tier_and_channel(retiered: Path) -> None:
    result = replay(load_policy(), load_policy(retiered), TIERED)
    assert result.budget_delta == Decimal("36.25") and result.invalid_old == result.invalid_new == 1
    # old budgets under the tier the old policy derived, new ones under the new policy's: a and b moved from silver to gold
    assert result.fact_deltas("tier") == [("standard", Decimal("0.00"), Decimal("0.00"), Decimal("0.00")),
                                          ("silver", Decimal("181.25"), Decimal(0), Decimal("-181.25")),
                                          ("gold", Decimal(0), Decimal("217.50"), Decimal("217.50"))]
    assert [(v, d) for v, _, _, d in result.fact_deltas("channel")] == [("email", Decimal("6.25")), ("phone", Decimal("0.00")),
                                                                        ("chat", Decimal("30.00"))]
    assert list(result.to_dict()["budget_by_fact"]) == ["tier", "channel"]
    by_severity = replay(load_policy(), load_policy(retiered), TIERED, by=("severity", "region")).to_dict()["budget_by_fact"]
    assert list(by_severity) == ["severity"]  # a fact of neither policy is left out
    assert [(row["value"], row["delta"]) for row in by_severity["severity"]] == [("low", "0.00"), ("medium", "6.25"), ("high", "30.00")]


def test_replay_of_helpdesk_payloads_through_a_mapping() -> None:
    payloads = [{"ticket": {"id": 7, "priority": "urgent", "via": {"channel": "twitter"}}}, {"ticket": {"id": 8, "priority": 5}}]
    records = list(mapped([Record("line 1", payloads[0]), BadLine(2, "invalid JSON"), Record("line 3", payloads[1])], load_mapping("zendesk")))
    assert isinstance(records[1], BadLine) and [r.label for r in records if isinstance(r, Record)] == ["7", "line 3"]
    refused = records[2]
    assert isinstance(refused, Record) and refused.refused is not None
    with pytest.raises(ComplaintError) as error:
        refused.complaint_for(load_policy())
    assert [(p.field, p.code) for p in error.value.problems] == [("ticket.priority", "unmapped_value")]
    result = replay(load_policy(), load_policy(), records)
    assert (result.complaints, result.bad_lines, result.invalid_old, result.invalid_new, result.decided_both) == (2, 1, 1, 1, 1)


# -- CLI --------------------------------------------------------------------------------------------

def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_fail_on_change(changed: Path) -> None:
    default = str(default_policy_path())
    assert run("diff", default, default, "--fail-on-change")[0] == 0
    code, out, _ = run("diff", default, str(changed), "--fail-on-change")
    assert code == 1 and "rule goodwill-credit changed" in out and "budget.base:" in out
    assert run("diff", default, str(changed))[0] == 0
    replayed = ("diff", default, str(changed), "--replay", str(FIXTURES / "complaints.jsonl"))
    code, out, _ = run(*replayed, "--fail-on-change")
    assert code == 1 and "decisions changed: 10 of 41" in out and "goodwill_credit -> goodwill_credit  10" in out
    assert "(+92.50)" in out and "line 21: invalid JSON" in out


def test_cli_json_replay(changed: Path) -> None:
    code, out, _ = run("diff", "--json", str(default_policy_path()), str(changed), "--replay", str(FIXTURES / "complaints.csv"), "--top", "1")
    data = json.loads(out)
    assert code == 0 and data["new"]["version"] == "1.1.0"
    assert data["replay"]["budget"]["delta"] == "33.75" and len(data["replay"]["largest_changes"]) == 1
    assert data["replay"]["largest_changes"][0] == {
        "complaint": "C-005", "old_action": "goodwill_credit", "new_action": "goodwill_credit", "old_budget": "20.00",
        "new_budget": "30.00", "budget_delta": "10.00", "changed": ["budget"],
    }


def test_cli_revisions_and_errors(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    code, out, _ = run("diff", "HEAD~1:rules/acme", "rules/acme", "--fail-on-change")
    assert code == 1 and "budget.base" in out
    code, _, err = run("diff", "HEAD~5:rules/acme", "rules/acme")
    assert code == 4 and "cannot read HEAD~5:rules/acme" in err
    assert run("diff", "no/such/policy", "rules/acme")[0] == 4
    assert run("diff", "rules/acme", "rules/acme", "--replay", "missing.jsonl")[0] == 2


def test_cli_replay_budget_by_tier_channel_or_other_facts(retiered: Path, tmp_path: Path) -> None:
    complaints = tmp_path / "complaints.jsonl"
    complaints.write_text("".join(json.dumps(r.data) + "\n" for r in TIERED), encoding="utf-8")
    default, replayed = str(default_policy_path()), str(retiered)
    code, out, _ = run("diff", default, replayed, "--replay", str(complaints))
    assert code == 0 and "budget by tier:\n  silver  181.25 -> 0 (-181.25)\n  gold    0 -> 217.50 (+217.50)\n" in out
    assert "budget by channel:\n  email  31.25 -> 37.50 (+6.25)\n  chat   150.00 -> 180.00 (+30.00)\n" in out
    code, out, _ = run("diff", "--json", default, replayed, "--replay", str(complaints), "--by", "severity")
    assert code == 0 and list(json.loads(out)["replay"]["budget_by_fact"]) == ["severity"]
    code, _, err = run("diff", default, replayed, "--replay", str(complaints), "--by", "tierr")
    assert code == 2 and "tierr" in err


def test_cli_replay_through_a_mapping(tmp_path: Path) -> None:
    helpdesk = Path(__file__).parent / "fixtures" / "helpdesk"
    tickets = tmp_path / "tickets.jsonl"
    tickets.write_text("".join(json.dumps(json.loads(p.read_text(encoding="utf-8"))) + "\n" for p in sorted(helpdesk.glob("zendesk_*.json")))
                       + '{"ticket": {"id": 9, "priority": 5}}\n', encoding="utf-8")
    default = str(default_policy_path())
    code, out, _ = run("diff", "--json", default, default, "--replay", str(tickets), "--mapping", "zendesk")
    replayed = json.loads(out)["replay"]
    assert code == 0 and (replayed["complaints"], replayed["decided_by_both"], replayed["invalid_under_old"]) == (4, 3, 1)
    assert run("diff", default, default, "--replay", str(tickets), "--mapping", str(tmp_path / "none.yaml"))[0] == 4
    table = tmp_path / "tickets.csv"
    table.write_text("severity,channel\nlow,email\n", encoding="utf-8")
    assert run("diff", default, default, "--replay", str(table), "--mapping", "zendesk")[0] == 2
