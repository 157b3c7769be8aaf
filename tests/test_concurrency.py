"""One policy serves many threads; memory per decision is bounded; fingerprints track meaning, not layout."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gesture_engine import Policy, load_policy
from gesture_engine.tools.invariants import fact_domains
from tests.conftest import MINIMAL


def complaints(policy: Policy, count: int, seed: int = 1) -> list[dict[str, Any]]:
    """Deterministic varied complaints built from the policy's own boundary values."""
    rng = random.Random(seed)
    domains = fact_domains(policy)
    return [{name: rng.choice(values) for name, values in domains.items()} for _ in range(count)]


def test_eight_threads_decide_exactly_like_one(default_policy: Policy) -> None:
    batch = complaints(default_policy, 2000)
    alone = [default_policy.decide(c).model_dump_json() for c in batch]
    with ThreadPoolExecutor(max_workers=8) as pool:
        shared = list(pool.map(lambda c: default_policy.decide(c).model_dump_json(), batch, chunksize=7))
    assert shared == alone


def test_threads_share_a_tiny_outcome_cache_and_lazily_written_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """With an outcome cache of 2 (evicting all the time) eight threads still decide exactly like one;
    and threads reading one decision's texts (written on first read) all see the same."""
    import gesture_engine.policy as policy_module

    monkeypatch.setattr(policy_module, "OUTCOME_CACHE_SIZE", 2)
    policy = load_policy()
    batch = complaints(policy, 2000, seed=3)
    monkeypatch.setattr(policy_module, "OUTCOME_CACHE_SIZE", 4096)
    alone = [load_policy().decide_json(c) for c in batch[:50]]  # a fresh policy per complaint: no cache helps it
    fresh = load_policy()
    alone += [fresh.decide_json(c) for c in batch[50:]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        shared = list(pool.map(policy.decide_json, batch, chunksize=3))
    assert shared == alone
    decisions = [policy.decide(c) for c in batch[:200]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        texts = list(pool.map(lambda d: (d.budget.summary, d.budget.steps, d.approval.reasons, d.reasons), decisions * 4, chunksize=1))
    assert texts == [(d.budget.summary, d.budget.steps, d.approval.reasons, d.reasons) for d in decisions * 4]


def test_memory_does_not_grow_with_decisions(default_policy: Policy) -> None:
    """~20k decisions: traced memory after the warm-up stays flat (the bound is generous on purpose)."""
    batch = complaints(default_policy, 500, seed=2)
    for complaint in batch:
        default_policy.decide(complaint)  # warm caches before measuring
    tracemalloc.start()
    try:
        levels = []
        for _ in range(10):
            for _ in range(4):
                for complaint in batch:
                    default_policy.decide(complaint)
            levels.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    growth = levels[-1] - levels[0]
    assert growth < 256 * 1024, f"traced memory grew {growth} bytes over {9 * 4 * len(batch)} decisions: {levels}"


def test_loading_twice_gives_the_same_fingerprint() -> None:
    assert load_policy().fingerprint == load_policy().fingerprint


REFORMATTED = """\
# the same policy, written differently: comments, key order, quoting, flow vs block style
currency: "USD"
version: '1'
policy: tiny
facts:
  spend: {default: 0, type: money}
  channel:
    type: enum
    default: email
    values:
      - email
      - social
  severity: {required: true, values: [low, medium, high], type: level}   # trailing comment
actions: {pay: {label: Pay}, sorry: {label: "Say sorry"}}
gestures:
  credit: {monetary: true, label: Credit}
  apology: {label: Apology}
budget_cap: 100
approval:
  ladder:
    - level: agent
      up_to: 50
    - {level: manager}
  levels: [agent, manager]
rules:
  - then:
      respond_within: 2h
      budget: 40
      gestures: [apology, credit]
      action: pay
    when: {severity: {at_least: high}}
    id: high
  - {id: fallback, default: true, then: {action: sorry, gestures: [apology], respond_within: 1d}}
"""


def test_formatting_does_not_change_the_fingerprint(write_policy: Callable[..., Path]) -> None:
    original = load_policy(write_policy(MINIMAL, "a.yaml")).fingerprint
    assert load_policy(write_policy(REFORMATTED, "b.yaml")).fingerprint == original


SEMANTIC_CHANGES = [
    ("budget: 40", "budget: 41"),
    ("values: [low, medium, high]", "values: [low, high, medium]"),
    ("respond_within: 2h", "respond_within: 3h"),
    ("{up_to: 50, level: agent}", "{up_to: 50.01, level: agent}"),
    ("gestures: [apology, credit]", "gestures: [credit, apology]"),
    ("  credit: {label: Credit, monetary: true}", "  credit: {label: Credit, monetary: false}"),
    ("when: {severity: {at_least: high}}", "when: {severity: {at_least: medium}}"),
]


def test_every_semantic_change_changes_the_fingerprint(write_policy: Callable[..., Path]) -> None:
    original = load_policy(write_policy(MINIMAL, "a.yaml")).fingerprint
    seen = {original}
    for i, (old, new) in enumerate(SEMANTIC_CHANGES):
        assert MINIMAL.count(old) == 1, old
        changed = load_policy(write_policy(MINIMAL.replace(old, new), f"changed{i}.yaml")).fingerprint
        assert changed not in seen, (old, new)
        seen.add(changed)
    # renaming rules is a change too: ids appear in decisions and traces
    renamed = MINIMAL.replace("  - id: high", "  - id: severe")
    assert load_policy(write_policy(renamed, "renamed.yaml")).fingerprint not in seen
