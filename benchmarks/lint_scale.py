"""``python -m benchmarks.lint_scale [--rules N]``: how long ``gesture lint`` takes on large policies.

Five policies of N first-hit rules (default 10,000), each stressing another part of the analysis:

- ``table``: the benchmark table (``benchmarks/table.py``): ranges over two numeric facts with
  thousands of thresholds each; the input space is far over ``MAX_CELLS``, so rules are checked one
  by one with the facts each reads.
- ``exact``: levels, enums and a few thresholds: a small space analysed whole, most rules shadowed.
- ``ranges``: one integer fact cut at thousands of thresholds, a level beside it: analysed whole,
  nearly every rule shadowed by a handful of others, and gap regions to describe.
- ``bands``: each rule its own band of an integer fact: ten thousand rules that each win cells.
- ``strings``: one string constant per rule (ten thousand string cells).

Each policy is loaded once (the load time is reported apart: it is not lint's) and linted in the
same process. Issue 14 asked for 10,000 rules in at most 10 seconds.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gesture_engine.load.compiler import compile_policy
from gesture_engine.load.source import read_policy_source
from gesture_engine.policy import Policy
from gesture_engine.tools.lint import lint

from .table import CHANNELS, DEAD_REGION, SEVERITIES, generate_table
from .table import REGIONS as TABLE_REGIONS
from .translate import write_gesture_policy

HEAD = """policy: {name}
version: "1"
currency: USD
budget_cap: 1000
facts:
  severity: {{type: level, values: [low, medium, high, critical], required: true}}
  channel: {{type: enum, values: [email, phone, chat, app_review, social_media, press], required: true}}
  region: {{type: enum, values: [north, south, east, west, antarctica], default: north}}
  audience: {{type: integer, min: 0, default: 0}}
  customer_value: {{type: money, default: 0}}
  note: {{type: string, default: ""}}
"""
CATALOG = """gestures:
  apology: {label: Apology}
  credit: {label: Credit, monetary: true}
actions:
  act: {label: Act}
rules:
"""
"""The gestures and action every generated policy offers, then its rules' key: what follows the facts."""
TAIL = """  - id: fallback
    default: true
    then: {action: act, gestures: [apology], respond_within: 1d}
"""
REGIONS = (*TABLE_REGIONS, DEAD_REGION)


def rule_text(i: int, tests: list[str]) -> str:
    """First-hit rule ``i`` of a generated policy: the ``tests`` and the same answer for every rule."""
    return (f"  - id: r{i:05d}\n    when: {{{', '.join(tests)}}}\n"
            "    then: {action: act, gestures: [apology, credit], respond_within: 4h, budget: 10}\n")


def exact(rng: random.Random, count: int) -> list[str]:
    rules = []
    for i in range(count):
        tests = [f"severity: {{at_least: {rng.choice(SEVERITIES)}}}", f"channel: {{in: [{', '.join(rng.sample(CHANNELS, rng.randint(1, 4)))}]}}"]
        if rng.random() < 0.5:
            tests.append(f"region: {rng.choice(REGIONS)}")
        if rng.random() < 0.7:
            tests.append(f"audience: {{gte: {rng.choice([0, 10, 100, 1000, 5000, 10000, 50000, 100000])}}}")
        if rng.random() < 0.5:
            tests.append(f"customer_value: {{lt: {rng.choice([0, 50, 100, 500, 1000, 5000])}}}")
        rules.append(rule_text(i, tests))
    return rules


def ranges(rng: random.Random, count: int) -> list[str]:
    rules = []
    for i in range(count):
        low = rng.randrange(0, 100_000, 10)
        high = low + rng.randrange(10, 5000, 10)
        rules.append(rule_text(i, [f"severity: {{at_least: {rng.choice(SEVERITIES)}}}", f"audience: {{gte: {low}, lt: {high}}}"]))
    return rules


def bands(rng: random.Random, count: int) -> list[str]:
    return [rule_text(i, [f"audience: {{gte: {i * 10}, lt: {i * 10 + 10}}}", f"channel: {{in: [{rng.choice(['email', 'phone'])}, chat]}}"])
            for i in range(count)]


def strings(rng: random.Random, count: int) -> list[str]:
    return [rule_text(i, [f"note: w{i:05d}", f"severity: {{at_least: {rng.choice(['low', 'high'])}}}"]) for i in range(count)]


SHAPES: dict[str, Callable[[random.Random, int], list[str]]] = {"exact": exact, "ranges": ranges, "bands": bands, "strings": strings}


def write_policies(directory: Path, count: int, only: list[str]) -> dict[str, Path]:
    """The policies asked for, written under ``directory``."""
    paths: dict[str, Path] = {}
    if "table" in only:
        paths["table"] = directory / "table"
        write_gesture_policy(generate_table(count), paths["table"])
    for name, shape in SHAPES.items():
        if name in only:
            paths[name] = directory / f"{name}.yaml"
            paths[name].write_text(HEAD.format(name=name) + CATALOG + "".join(shape(random.Random(7), count)) + TAIL, encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lint_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int, default=10_000, help="first-hit rules per policy (default 10,000)")
    parser.add_argument("--only", default="table,exact,ranges,bands,strings", help="comma-separated policies")
    args = parser.parse_args(argv)
    print("| policy | rules | load s | lint s | cells | analysis | findings | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for name, path in write_policies(Path(work), args.rules, args.only.split(",")).items():
            started = time.perf_counter()
            document = read_policy_source(path)
            policy = Policy(compile_policy(document))
            loaded = time.perf_counter()
            report = lint(policy, document)
            done = time.perf_counter()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            how = "exact" if report.exact else "rule by rule"
            print(f"| {name} | {args.rules} | {loaded - started:.1f} | {done - loaded:.1f} | {report.cells} | {how} | "
                  f"{len(report.findings)} | {peak} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
