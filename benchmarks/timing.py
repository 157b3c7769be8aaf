"""Timing in turns: contestants alternate, pass after pass, and each one's median pass is reported.

The machine is shared and its speed drifts by tens of percent over minutes, more than the targets
allow. Alternating the contestants exposes them to the same moments, and the median of several
passes (pyperf's choice) ignores the passes another process happened to slow down.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """µs per decision over the passes of one contestant."""

    median: float
    best: float
    worst: float
    passes: int

    def __str__(self) -> str:
        return f"{self.median:,.2f} µs" if self.passes == 1 else f"{self.median:,.2f} µs ({self.best:,.2f}–{self.worst:,.2f})"


Pass = Callable[[int], int]
"""``run(i)`` decides the complaints of set ``i`` and returns how many: every round gets a fresh set,
so no timed pass sees a complaint an earlier pass saw (a cache keyed by values gets no free hits)."""


def in_turns(contestants: Mapping[str, Pass], rounds: int) -> dict[str, Timing]:
    """Run every contestant's pass once per round, in turn, on set ``round``; returns µs per decision.

    A first untimed pass each, on set ``rounds``, fills what a running service would have filled.
    Garbage collection stays on during a pass, as in a service, but starts each pass empty.
    """
    for run in contestants.values():
        run(rounds)
    samples: dict[str, list[float]] = {name: [] for name in contestants}
    for number in range(rounds):
        for name, run in contestants.items():
            gc.collect()
            start = time.perf_counter()
            done = run(number)
            samples[name].append((time.perf_counter() - start) / max(done, 1) * 1e6)
    return {name: Timing(statistics.median(s), min(s), max(s), len(s)) for name, s in samples.items()}
