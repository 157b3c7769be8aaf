"""``python -m benchmarks.load_scale [--rules N] [--only SHAPES] [--repeat K] [--lint]``: how long
``load_policy`` takes on large policies of every shape a policy author writes.

Eight policies of N first-hit rules (default 10,000) plus a default rule, each over the same facts,
each rule testing ``severity`` beside the shape's own test:

- ``strings``: a string fact against the rule's own constant (``product: p-00001``, ``p-00002``, ...).
- ``enum-own``: the same over an enum fact that declares all N values.
- ``enum-shared``: enum facts against a few shared values (``channel: {in: [email, chat]}``, ``region``).
- ``ranges``: an integer fact between two of thousands of thresholds.
- ``money``: money thresholds to the cent (``customer_value: {gte: 1234.56}``).
- ``compare``: a money fact compared with another (``refunded: {lt: {fact: paid}}``) beside a threshold.
- ``sets``: an integer fact in a set of values, other than a value, or outside a range (``any`` of two).
- ``lists``: a list fact containing the rule's own value or one of a few shared ones.
- ``mixed``: each rule one of the above at random.
- ``table``: the budgeted benchmark table (``benchmarks/table.py``), the memory section's, for reference.

Each policy is written once, then loaded ``--repeat`` times in this process (the collector paused as
``load_policy`` does); the figures are the median wall clock and CPU time. With ``--lint``, each is
also linted once after its loads (``gesture lint``'s work without reading the file again); with
``--memory``, loaded once more under ``tracemalloc`` for the Python heap the policy keeps. Timing only:
the answers are checked by the tests (``tests/test_index.py``).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from gesture_engine import load_policy
from gesture_engine.load.source import read_policy_source
from gesture_engine.tools.lint import lint

from .lint_scale import CATALOG, TAIL, rule_text
from .table import CHANNELS, REGIONS, SEVERITIES, generate_table
from .translate import write_gesture_policy

SHARED_TAGS = ["vip", "press", "legal", "repeat"]


def head(rules: int) -> str:
    """The facts every shape uses (``catalogue`` declares one enum value per rule)."""
    catalogue = ", ".join(f"c_{i:05d}" for i in range(rules))
    return f"""policy: load_scale
version: "1"
currency: USD
budget_cap: 1000
facts:
  severity: {{type: level, values: [low, medium, high, critical], required: true}}
  channel: {{type: enum, values: [{", ".join(CHANNELS)}], default: email}}
  region: {{type: enum, values: [{", ".join(REGIONS)}], default: north}}
  catalogue: {{type: enum, values: [{catalogue}], default: c_00000}}
  product: {{type: string, default: ""}}
  audience: {{type: integer, min: 0, default: 0}}
  customer_value: {{type: money, default: 0}}
  paid: {{type: money, default: 0}}
  refunded: {{type: money, default: 0}}
  tags: {{type: list, default: []}}
""" + CATALOG


Test = Callable[[random.Random, int], str]


def _strings(rng: random.Random, i: int) -> str:
    return f"product: p-{i:05d}"


def _enum_own(rng: random.Random, i: int) -> str:
    return f"catalogue: c_{i:05d}"


def _enum_shared(rng: random.Random, i: int) -> str:
    test = f"channel: {{in: [{', '.join(rng.sample(CHANNELS, rng.randint(1, 3)))}]}}"
    return test + (f", region: {rng.choice(REGIONS)}" if rng.random() < 0.5 else "")


def _ranges(rng: random.Random, i: int) -> str:
    low = rng.randrange(0, 1_000_000, 10)
    return f"audience: {{gte: {low}, lt: {low + rng.randrange(10, 50_000, 10)}}}"


def _money(rng: random.Random, i: int) -> str:
    return f"customer_value: {{{rng.choice(['gte', 'lt', 'gt'])}: {rng.randrange(1, 5_000_000) / 100:.2f}}}"


def _compare(rng: random.Random, i: int) -> str:
    return f"refunded: {{{rng.choice(['lt', 'gte'])}: {{fact: paid}}}}, paid: {{gte: {rng.randrange(0, 100_000) / 100:.2f}}}"


def _sets(rng: random.Random, i: int) -> str:
    low, high = sorted(rng.sample(range(0, 1_000_000, 10), 2))
    return rng.choice([f"audience: {{in: [{low}, {high}]}}", f"audience: {{ne: {low}}}",
                       f"any: [{{audience: {{lt: {low}}}}}, {{audience: {{gt: {high}}}}}]"])


def _lists(rng: random.Random, i: int) -> str:
    value = f"t_{i:05d}" if rng.random() < 0.8 else rng.choice(SHARED_TAGS)
    return f"tags: {{contains: {value}}}"


SHAPES: dict[str, Test] = {"strings": _strings, "enum-own": _enum_own, "enum-shared": _enum_shared, "ranges": _ranges,
                           "money": _money, "compare": _compare, "sets": _sets, "lists": _lists}


def _mixed(rng: random.Random, i: int) -> str:
    return SHAPES[rng.choice(sorted(SHAPES))](rng, i)


SHAPES["mixed"] = _mixed
TABLE = "table"


def policy_text(shape: str, rules: int, seed: int = 7) -> str:
    """The YAML of ``rules`` first-hit rules of ``shape`` and a default rule."""
    rng = random.Random(seed)
    test = SHAPES[shape]
    lines = [head(rules)]
    for i in range(rules):
        lines.append(rule_text(i, [f"severity: {{at_least: {rng.choice(SEVERITIES)}}}", test(rng, i)]))
    lines.append(TAIL)
    return "".join(lines)


def write_policy(directory: Path, shape: str, rules: int) -> Path:
    """The policy of ``shape`` written under ``directory`` (the table is a directory of files)."""
    path = directory / shape
    if shape == TABLE:
        write_gesture_policy(generate_table(rules), path)
    else:
        path = path.with_suffix(".yaml")
        path.write_text(policy_text(shape, rules), encoding="utf-8")
    return path


def _kept_mib(path: Path) -> float:
    """The Python heap a loaded policy keeps, in MiB."""
    gc.collect()
    tracemalloc.start()
    policy = load_policy(path)
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del policy
    return kept / 2**20


def _timed(path: Path) -> tuple[float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    load_policy(path)
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int, default=10_000, help="first-hit rules per policy (default 10,000)")
    parser.add_argument("--only", default=",".join([*SHAPES, TABLE]), help="comma-separated shapes (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="loads per shape; the median is reported (default 3)")
    parser.add_argument("--lint", action="store_true", help="also lint each policy once")
    parser.add_argument("--memory", action="store_true", help="also the Python heap each loaded policy keeps")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only.split(",")) - {*SHAPES, TABLE})
    if unknown:
        parser.error(f"unknown shapes: {', '.join(unknown)} (known: {', '.join([*SHAPES, TABLE])})")
    print(f"| shape ({args.rules} rules) | load s (wall) | load s (CPU) |" + (" lint s |" if args.lint else "")
          + (" heap kept MiB |" if args.memory else ""))
    print("|---|---:|---:|" + ("---:|" if args.lint else "") + ("---:|" if args.memory else ""))
    with tempfile.TemporaryDirectory() as work:
        for shape in args.only.split(","):
            path = write_policy(Path(work), shape, args.rules)
            times = [_timed(path) for _ in range(args.repeat)]
            row = f"| {shape} | {statistics.median(t[0] for t in times):.2f} | {statistics.median(t[1] for t in times):.2f} |"
            if args.lint:
                policy, document = load_policy(path), read_policy_source(path)
                started = time.perf_counter()
                lint(policy, document)
                row += f" {time.perf_counter() - started:.2f} |"
                del policy, document
            if args.memory:
                row += f" {_kept_mib(path):.1f} |"
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
