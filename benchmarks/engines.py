"""Loading a ``Table`` into gesture-engine and ZEN, checking their answers, and turning caches off.

Only gesture-engine's public API is used (``load_policy``, ``Policy.decide``/``decide_json``,
``decision.action``, ``decision.budget.amount``), so the benchmark keeps working while the core is
rebuilt underneath it. ZEN is imported lazily: without it, its figures print as "n/a".
"""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import translate
from .table import Answer, Complaint, Table
from .timing import Pass

CACHE_KNOBS = (("gesture_engine.policy", "OUTCOME_CACHE_SIZE"), ("gesture_engine.complaint", "SHAPE_CACHE_SIZE"))
"""Module attributes that size gesture-engine's caches, where the installed version has them."""


def disable_caches() -> list[str]:
    """Set every cache size in ``CACHE_KNOBS`` that exists to 0 (before any policy loads); returns the
    ones found, so a report never claims caches were off when there was nothing to turn off."""
    found = []
    for module_name, attribute in CACHE_KNOBS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, attribute):
            setattr(module, attribute, 0)
            found.append(f"{module_name}.{attribute}")
    return found


@dataclass
class Loaded:
    """A gesture-engine policy loaded from a generated table, with what loading it cost."""

    policy: Any
    seconds: float
    yaml_bytes: int


def load_gesture(table: Table, workdir: Path) -> Loaded:
    """Write ``table`` as a policy directory under ``workdir`` and load it (timed: read, parse, compile)."""
    from gesture_engine import load_policy

    path = Path(tempfile.mkdtemp(prefix=f"{table.name}-", dir=workdir)) / "policy"
    size = translate.write_gesture_policy(table, path)
    start = time.perf_counter()
    policy = load_policy(path)
    return Loaded(policy, time.perf_counter() - start, size)


class Zen:
    """One ZenEngine with a static loader holding the table's JDM graph (warmed by a first evaluation)."""

    def __init__(self, table: Table, first: Complaint) -> None:
        try:
            zen = importlib.import_module("zen")
        except ImportError as exc:
            raise Unavailable(f"cannot import zen (pip install zen-engine): {exc}") from None
        self.key = f"{table.name}.json"
        self.engine = zen.ZenEngine({"loader": {"type": "static", "content": {self.key: translate.zen_jdm(table)}}})
        self.engine.evaluate(self.key, translate.zen_context(first))

    def answers(self, complaints: Sequence[Complaint]) -> list[tuple[str, Decimal | None]]:
        """ZEN's action and budget for each complaint: what is cross-checked."""
        evaluate, key = self.engine.evaluate, self.key
        return [translate.zen_answer(evaluate(key, translate.zen_context(c))["result"]) for c in complaints]

    def evaluate_pass(self, sets: Sequence[Sequence[Complaint]]) -> Pass:
        """Timed passes of ``evaluate``, one call per complaint (contexts made before timing)."""
        evaluate, key = self.engine.evaluate, self.key
        contexts = [[translate.zen_context(c) for c in complaints] for complaints in sets]

        def run(number: int) -> int:
            for context in contexts[number]:
                evaluate(key, context)
            return len(contexts[number])

        return run

    def batch_pass(self, sets: Sequence[Sequence[Complaint]], chunk: int = 500) -> Pass:
        """Timed passes of ``evaluate_batch`` in chunks of ``chunk`` complaints (it may use several threads)."""
        evaluate_batch = self.engine.evaluate_batch
        chunked = []
        for complaints in sets:
            items = [{"key": self.key, "context": translate.zen_context(c)} for c in complaints]
            chunked.append([items[i: i + chunk] for i in range(0, len(items), chunk)])

        def run(number: int) -> int:
            done = 0
            for part in chunked[number]:
                evaluate_batch(part)
                done += len(part)
            return done

        return run


class Unavailable(Exception):
    """An engine that is not installed: its figures print as "n/a" with this reason."""


def gesture_answers(policy: Any, complaints: Sequence[Complaint]) -> list[Answer]:
    """``decide``'s action and budget amount for each complaint: what is cross-checked."""
    answers = []
    for complaint in complaints:
        decision = policy.decide(complaint)
        answers.append((decision.action, Decimal(decision.budget.amount)))
    return answers


def decide_pass(policy: Any, sets: Sequence[Sequence[Complaint]], method: str = "decide") -> Pass:
    """Timed passes of ``policy.decide`` (or ``decide_json``) over each set of complaints."""
    decide = getattr(policy, method)

    def run(number: int) -> int:
        for complaint in sets[number]:
            decide(complaint)
        return len(sets[number])

    return run


def mismatches(got: Sequence[Any], want: Sequence[Any]) -> int:
    """Answers that differ (the action, or the budget to the cent), and any missing answer."""
    return sum(1 for a, b in zip(got, want, strict=False) if a != b) + abs(len(got) - len(want))
