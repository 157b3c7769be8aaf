"""The benchmark must keep measuring what it claims: budgets on every table, money that never repeats,
engines that agree to the cent, and a report with every row. No timing is asserted here.

Runs ``python -m benchmarks --quick`` once (tiny sizes, a 2,000-complaint batch) and checks its report,
then the generators and translations on their own.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import math
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the benchmarks package lives at the repository root, beside tests/
    sys.path.insert(0, str(ROOT))

from benchmarks import engines, translate  # noqa: E402
from benchmarks.run import main  # noqa: E402
from benchmarks.table import (  # noqa: E402
    FIXED_MONEY,
    MONEY_FACTS,
    SERIOUS,
    Table,
    dead_table,
    default_policy_action,
    default_policy_complaints,
    generate_complaints,
    generate_table,
    with_fixed_money,
)
from benchmarks.timing import Pass, in_turns  # noqa: E402
from gesture_engine import load_policy  # noqa: E402

HAS_ZEN = importlib.util.find_spec("zen") is not None

QUICK_ROWS = [
    "8-row table: `decide`",
    "8-row table: `decide_json`",
    "8-row table: ZEN `evaluate`",
    "8-row table: ZEN `evaluate_batch`, per complaint",
    "8-row table: `decide` ÷ ZEN fastest path",
    "8-row table: answers (action, budget) gesture-engine ≠ ZEN",
    "8-row table: answers gesture-engine ≠ plain reading of the table",
    "8-row table: answers ZEN ≠ plain reading of the table",
    "default policy, whole mix: `decide`, money to the cent",
    "default policy, whole mix: `decide`, fixed money",
    "default policy, whole mix: `decide_json`, money to the cent",
    "default policy, whole mix: `decide_json`, fixed money",
    "default policy, high/critical: `decide`, money to the cent",
    "default policy, high/critical: `decide`, fixed money",
    "default policy, high/critical: `decide_json`, money to the cent",
    "ZEN fastest path on the 8-row table (same turns)",
    "default policy, whole mix: varied ÷ fixed money (`decide`)",
    "default policy, high/critical: varied ÷ fixed money (`decide`)",
    "default policy, whole mix: `decide` ÷ ZEN fastest path",
    "default policy, high/critical: `decide` ÷ ZEN fastest path",
    "default policy: actions ≠ a hand-written mirror of rules/default",
    "flatness: 8-row table, `decide`",
    "flatness: 20 dead rules + 8, `decide`",
    "flatness: 20 dead rules + 8 ÷ 8 rules",
    "flatness: 200 dead rules + 8, `decide`",
    "flatness: 200 dead rules + 8 ÷ 8 rules",
    "flatness: `load_policy` of 200 dead rules + 8",
    "flatness: answers ≠ plain reading of the tables",
    "memory, 200-row table: gesture-engine keeps",
    "memory, 200-row table: ZEN keeps",
    "memory, 200-row table: gesture-engine ÷ ZEN (RSS kept)",
    "memory, 200-row table: gesture-engine `load_policy`",
    "batch: 2,000 complaints, `gesture decide --batch --workers 2`",
    "batch: complaints without a decision line",
    "batch: decision lines ≠ `decide` (action, budget)",
]


@pytest.fixture(scope="module")
def quick_report() -> dict[str, list[str]]:
    """``python -m benchmarks --quick``'s table: measure -> [figure, target, met]."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["--quick"]) == 0
    rows = [line.strip("|").split(" | ") for line in out.getvalue().splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0][0].strip() == "measure"
    return {row[0].strip(): [cell.strip() for cell in row[1:]] for row in rows[1:]}


def test_quick_run_reports_every_row(quick_report: dict[str, list[str]]) -> None:
    assert list(quick_report) == QUICK_ROWS


def test_quick_run_finds_no_mismatch(quick_report: dict[str, list[str]]) -> None:
    checks = {measure: cells for measure, cells in quick_report.items() if cells[1] == "0"}
    assert len(checks) == 7
    for measure, (figure, _, met) in checks.items():
        if "ZEN" in measure and not HAS_ZEN:
            assert figure == "n/a"
            continue
        assert figure.startswith("0 of "), (measure, figure)
        assert met == "yes"


def test_quick_run_does_not_judge_times(quick_report: dict[str, list[str]]) -> None:
    """Quick mode's sizes say nothing about speed: its timed rows carry a target but no verdict."""
    timed = [cells for measure, cells in quick_report.items() if "÷" in measure or "µs" in cells[0]]
    assert timed and all(cells[2] == "" for cells in timed)


def test_every_row_of_every_table_carries_a_full_budget() -> None:
    for table in (generate_table(8), generate_table(100), dead_table(30, 8)):
        budgets = [row.budget for row in table.rows] + [table.default_budget]
        assert all(b.percent_of in MONEY_FACTS and b.percent > 0 and b.multipliers and b.maximum for b in budgets)
        assert {fact for b in budgets for fact, _ in b.multipliers} <= {"channel", "region"}
        assert {b.percent_of for b in budgets} == set(MONEY_FACTS) or len(budgets) < 20


def test_complaints_carry_money_to_the_cent_that_never_repeats_and_audiences_over_decades() -> None:
    complaints = generate_complaints(3000)
    for fact in MONEY_FACTS:
        values = [c[fact] for c in complaints]
        assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -2 for v in values)
        assert len(set(values)) == len(values)
    decades = {int(math.log10(c["audience"])) for c in complaints}
    assert decades == set(range(7))
    assert generate_complaints(50) == generate_complaints(50)


def test_default_policy_complaints_and_their_fixed_money_twins() -> None:
    mix = default_policy_complaints(2000, seed=3)
    serious = default_policy_complaints(300, seed=3, serious_only=True)
    assert {c["severity"] for c in serious} == set(SERIOUS)
    assert len({c["order_value"] for c in mix}) == len(mix)
    assert any(c["goodwill_last_90d"] > 0 for c in mix) and any(c["goodwill_last_90d"] == 0 for c in mix)
    fixed = with_fixed_money(mix[:10])
    assert all(c[k] == v for c in fixed for k, v in FIXED_MONEY.items())
    assert [c["severity"] for c in fixed] == [c["severity"] for c in mix[:10]]
    policy = load_policy()
    assert [policy.decide(c).action for c in mix[:500]] == [default_policy_action(c) for c in mix[:500]]
    assert len({default_policy_action(c) for c in mix}) == 6  # the mix reaches every first-hit rule


@pytest.mark.parametrize("table", [generate_table(8), generate_table(40), dead_table(dead=25, live=8)], ids=lambda t: t.name)
def test_gesture_engine_agrees_with_the_plain_reading_to_the_cent(table: Table, tmp_path: Path) -> None:
    policy = engines.load_gesture(table, tmp_path).policy
    complaints = generate_complaints(400)
    expected = [table.decide(c) for c in complaints]
    assert engines.gesture_answers(policy, complaints) == expected
    # a table where everything falls through, or the budget never varies, would hide mistakes
    assert len({action for action, _ in expected}) >= 4
    assert len({amount for _, amount in expected}) > 300
    assert any(amount == row.budget.maximum for row in table.rows for (action, amount) in expected if action == row.action)


@pytest.mark.skipif(not HAS_ZEN, reason="zen-engine is not installed")
def test_zen_computes_the_same_budgets() -> None:
    table = generate_table(8)
    complaints = generate_complaints(500, seed=5)
    zen = engines.Zen(table, complaints[0])
    assert zen.answers(complaints) == [table.decide(c) for c in complaints]


def test_zen_budget_expression_is_the_arithmetic_of_the_budget() -> None:
    budget = generate_table(8).rows[0].budget
    text = translate.zen_budget(budget)
    assert text.startswith("min([") and text.endswith(f", {budget.maximum}])")
    assert f"{budget.percent_of} * {budget.percent} / 100" in text
    assert text.count("round(") == 1 + len(budget.multipliers)


def _restore_cache_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put back, after the test, whatever ``disable_caches`` sets to 0 (other tests rely on the caches)."""
    for module_name, attribute in engines.CACHE_KNOBS:
        with contextlib.suppress(ImportError):
            module = importlib.import_module(module_name)
            if hasattr(module, attribute):
                monkeypatch.setattr(module, attribute, getattr(module, attribute))


def test_no_cache_run_says_which_cache_sizes_it_found(monkeypatch: pytest.MonkeyPatch) -> None:
    _restore_cache_sizes(monkeypatch)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["--quick", "--no-cache", "--only", "table8"]) == 0
    heading = next(line for line in out.getvalue().splitlines() if line.startswith("## Results"))
    assert "caches off: " in heading
    assert "gesture_engine.policy.OUTCOME_CACHE_SIZE" in heading or "no cache size attributes found" in heading
    assert "| 8-row table: answers gesture-engine ≠ plain reading of the table | 0 of 400 | 0 | yes |" in out.getvalue()


def test_disable_caches_sets_only_the_sizes_that_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    import gesture_engine.policy

    _restore_cache_sizes(monkeypatch)
    monkeypatch.setattr(gesture_engine.policy, "OUTCOME_CACHE_SIZE", 4096, raising=False)
    found = engines.disable_caches()
    assert "gesture_engine.policy.OUTCOME_CACHE_SIZE" in found
    assert getattr(gesture_engine.policy, "OUTCOME_CACHE_SIZE") == 0  # noqa: B009 (not declared in every version)
    assert all(name in {f"{m}.{a}" for m, a in engines.CACHE_KNOBS} for name in found)


def test_in_turns_gives_every_pass_a_fresh_set() -> None:
    calls: list[tuple[str, int]] = []

    def contestant(name: str) -> Pass:
        def run(number: int) -> int:
            calls.append((name, number))
            return 10

        return run

    timings = in_turns({"a": contestant("a"), "b": contestant("b")}, rounds=3)
    assert calls == [("a", 3), ("b", 3), ("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert {name: t.passes for name, t in timings.items()} == {"a": 3, "b": 3}


def test_load_scale_loads_and_lints_every_shape() -> None:
    """``python -m benchmarks.load_scale``: every shape is a valid policy that loads and lints (small
    here; the report has a row per shape with its columns)."""
    from benchmarks import load_scale

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert load_scale.main(["--rules", "30", "--repeat", "1", "--lint", "--memory"]) == 0
    rows = [line.split("|")[1:-1] for line in out.getvalue().splitlines()[2:]]
    assert [row[0].strip() for row in rows] == [*load_scale.SHAPES, load_scale.TABLE]
    assert all(len(row) == 5 for row in rows)


def test_spark_benchmark_inputs_are_the_same_rows_in_both_files(tmp_path: Path) -> None:
    """benchmarks/spark.py's JSON Lines and Parquet hold the same complaints, 1% of them invalid, made once."""
    pytest.importorskip("pyarrow")
    import json

    import pyarrow.parquet as pq

    from benchmarks.spark import FILES, prepare
    from gesture_engine import ComplaintError

    data = prepare(tmp_path / "2000", 2000)
    assert data.invalid == 20 and prepare(tmp_path / "2000", 2000) == data  # the second call reuses the files
    lines = [json.loads(line, parse_float=Decimal) for line in data.jsonl.read_text(encoding="utf-8").splitlines()]
    parts = sorted(data.parquet.iterdir())
    assert len(parts) == FILES
    rows = [row for part in parts for row in pq.read_table(part).to_pylist()]
    assert len(lines) == len(rows) == 2000 and len({r["complaint_id"] for r in rows}) == len({r["received_at"] for r in rows}) == 2000
    policy, invalid = load_policy(), 0
    for line, row in zip(lines, rows, strict=True):
        assert line["received_at"] == row["received_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
        assert {k: v for k, v in line.items() if k != "received_at"} == {k: v for k, v in row.items() if k != "received_at"}
        try:
            policy.decide(line)
        except ComplaintError:
            invalid += 1
    assert invalid == data.invalid
