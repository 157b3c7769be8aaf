"""The benchmark generators must keep producing equivalent tables, or the timings mean nothing.

Runs the generators at tiny sizes for gesture-engine and the hand-written if/elif only (no
competitor packages needed, no timing) and checks every action against a plain reading of the table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the benchmarks package lives at the repository root, beside tests/
    sys.path.insert(0, str(ROOT))

from benchmarks import translate  # noqa: E402
from benchmarks.table import (  # noqa: E402
    DEFAULT_POLICY_FACTS,
    Table,
    dead_table,
    default_policy_reference,
    generate_complaints,
    generate_table,
)
from gesture_engine import load_policy  # noqa: E402

COMPLAINTS = generate_complaints(400)


@pytest.mark.parametrize("table", [generate_table(8), generate_table(40), dead_table(dead=25, live=8)], ids=lambda t: t.name)
def test_gesture_engine_and_if_elif_agree_with_the_table(table: Table, tmp_path: Path) -> None:
    path = tmp_path / "policy"
    translate.write_gesture_policy(table, path, rules_per_file=10)  # several rule files, as big tables get
    policy = load_policy(path)
    assert len(policy.rules) == len(table.rows) + 1
    if_elif = translate.python_decider(table)

    expected = [table.first_hit(c) for c in COMPLAINTS]
    assert [if_elif(c) for c in COMPLAINTS] == expected
    assert [policy.decide(c).action for c in COMPLAINTS] == expected
    # a table where everything falls through, or one row takes all, would hide first-hit mistakes
    assert len(set(expected)) >= 4
    assert table.default_action in expected


def test_dead_rows_never_match() -> None:
    table = dead_table(dead=25, live=8)
    dead = [row for row in table.rows if row.region is not None]
    assert len(dead) == 25 and table.rows[:25] == tuple(dead)
    assert not any(row.matches(c) for row in dead for c in COMPLAINTS)


def test_default_policy_mirror_matches_the_embedded_policy() -> None:
    policy = load_policy()
    complaints = [{name: c[name] for name in DEFAULT_POLICY_FACTS} for c in COMPLAINTS]
    assert [policy.decide(c).action for c in complaints] == [default_policy_reference(c) for c in complaints]


def test_generation_is_deterministic() -> None:
    assert generate_table(30) == generate_table(30)
    assert generate_complaints(5) == generate_complaints(5)
    assert translate.gesture_policy(generate_table(30)) == translate.gesture_policy(generate_table(30))


def test_flatness_is_timed_in_turns_on_the_first_and_dead_tables(tmp_path: Path) -> None:
    from benchmarks.run import columns_for, flatness_in_turns

    columns = columns_for((8, 40), seed=7, dead=(25,))
    best = flatness_in_turns(columns, COMPLAINTS[:50], tmp_path, rounds=2)
    assert list(best) == ["8", "dead25"]
    assert all(0 < us < float("inf") for us in best.values())
