"""Memory soak: decide many realistic complaints with the default policy and report traced memory.

A leak (a cache keyed by complaint, a trace kept alive, an interned string per input) shows up as
steady growth between checkpoints; a healthy engine stays flat after warm-up. The complaints are the
benchmark's (money to the cent, never repeated within 10,000), so a cache keyed by values meets as
many distinct keys as real traffic would give it.

    python -m benchmarks.memory_soak                 # 200k decisions
    python -m benchmarks.memory_soak -n 50000 --json

Exit status is 1 when growth after warm-up exceeds ``--max-growth`` bytes (default 1 MiB).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from typing import Any

from gesture_engine import load_policy

from .table import default_policy_complaints

DISTINCT = 20_000
"""Different complaints cycled through: more than any bounded cache should hold."""


def soak(decisions: int, checkpoints: int, seed: int) -> dict[str, Any]:
    """Run the soak; returns checkpoints of (decisions so far, traced bytes) and the growth."""
    policy = load_policy()
    batch = default_policy_complaints(DISTINCT, seed=seed)
    for complaint in batch:  # warm-up: caches, interned strings, first-use allocations
        policy.decide(complaint)
    tracemalloc.start()
    start = time.perf_counter()
    points: list[tuple[int, int]] = [(0, tracemalloc.get_traced_memory()[0])]
    step = max(1, decisions // checkpoints)
    done = 0
    try:
        while done < decisions:
            for i in range(min(step, decisions - done)):
                policy.decide(batch[(done + i) % len(batch)])
            done += min(step, decisions - done)
            points.append((done, tracemalloc.get_traced_memory()[0]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - start
    after_first = points[1][1] if len(points) > 1 else points[0][1]
    return {
        "policy": "default",
        "decisions": decisions,
        "seconds": round(elapsed, 2),
        "checkpoints": points,
        "peak_bytes": peak,
        "growth_bytes": points[-1][1] - after_first,
        "bytes_per_decision": (points[-1][1] - after_first) / max(1, decisions - step),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--decisions", type=int, default=200_000)
    parser.add_argument("--checkpoints", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-growth", type=int, default=1024 * 1024, help="bytes of growth after the first checkpoint that count as a leak")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = soak(args.decisions, args.checkpoints, args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['decisions']} decisions with policy {result['policy']} in {result['seconds']} s (under tracemalloc)")
        for count, traced in result["checkpoints"]:
            print(f"  after {count:>8} decisions: {traced / 1024:9.1f} KiB traced")
        print(f"peak {result['peak_bytes'] / 1024:.1f} KiB; growth after the first checkpoint {result['growth_bytes']} bytes "
              f"({result['bytes_per_decision']:.4f} bytes per decision)")
    return 1 if result["growth_bytes"] > args.max_growth else 0


if __name__ == "__main__":
    sys.exit(main())
