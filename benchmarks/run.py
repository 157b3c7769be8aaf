"""Run the benchmark suite and print one Markdown report: ``python -m benchmarks [--quick]``.

For every column (a table size, or the dead-rules table) each engine gets the same table and the
same complaints; its time per decision is wall-clock time over the decided complaints, best of a
few passes, and every action it returns is compared with the hand-written if/elif reference.
Slow engines on big tables stop after a time budget per cell, which the report marks.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from .engines import ENGINES, Engine, GestureDefaultPolicy, Prepared, Unavailable, _gesture_policy
from .table import Complaint, Table, dead_table, generate_complaints, generate_table


@dataclass(frozen=True)
class Mode:
    """Defaults of a run; every one can be overridden from the command line."""

    sizes: tuple[int, ...]
    dead: tuple[int, ...]
    """Dead-rules columns: this many rules no complaint matches, then the 8-rule table."""
    inputs: int
    budget: float
    passes: int
    memory_size: int


FLATNESS_ROUNDS = 5
"""Alternating passes of the flatness check (see ``flatness_in_turns``)."""
FULL = Mode(sizes=(8, 100, 1000, 10000), dead=(1000, 10000), inputs=10000, budget=20.0, passes=3, memory_size=10000)
QUICK = Mode(sizes=(8, 100, 1000), dead=(1000,), inputs=1000, budget=0.6, passes=1, memory_size=1000)
DEAD_LIVE = 8
PARALLEL = 1.3
"""A cell whose CPU time exceeds its wall time by this factor ran on several cores; it is marked ∥."""
ORACLE_SAMPLE = 500
"""Complaints on which the if/elif reference itself is checked against a direct reading of the table."""


@dataclass
class Cell:
    """One engine on one table."""

    us: float | None = None
    cpu_share: float = 1.0
    """Process CPU time over wall time while timing: above 1 the engine used more than one core."""
    decided: int = 0
    mismatches: int = 0
    setup_seconds: float | None = None
    error: str = ""
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Column:
    key: str
    title: str
    table: Table
    mean_position: float = 0.0
    fallback_share: float = 0.0
    oracle_mismatches: int = 0


def time_cell(prepared: Prepared, budget: float, passes: int) -> tuple[float, float, list[str]]:
    """Best µs/decision over up to ``passes`` passes, stopping a pass once ``budget`` seconds are spent.

    Chunks grow from 10 to 500 complaints so a slow engine is stopped early and a fast one pays
    little loop overhead. Returns the time, CPU time over wall time, and the actions of the first pass.
    """
    inputs = prepared.inputs
    best = float("inf")
    first: list[str] = []
    spent = 0.0
    cpu = 0.0
    for number in range(passes):
        gc.collect()
        done: list[str] = []
        elapsed = 0.0
        chunk = 10
        while len(done) < len(inputs) and (elapsed < budget or not done):
            part = inputs[len(done): len(done) + chunk]
            start, start_cpu = time.perf_counter(), time.process_time()
            actions = prepared.run(part)
            elapsed += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
            done.extend(actions)
            chunk = min(chunk * 2, 500)
        best = min(best, elapsed / len(done) * 1e6)
        spent += elapsed
        if number == 0:
            first = done
        if len(done) < len(inputs) or spent + elapsed > budget:
            break
    # process_time ticks coarsely on some systems: judge core use only on a long enough run
    return best, cpu / spent if spent > 0.2 else 1.0, first


def measure(engine: Engine, table: Table, complaints: list[Complaint], reference: list[str], workdir: Path,
            cache: dict[str, Any], budget: float, passes: int) -> Cell:
    """Prepare ``engine`` for ``table`` and time it; any failure becomes the cell's error, not a crash."""
    try:
        prepared = engine.prepare(table, complaints, workdir, cache)
        expected = prepared.notes.pop("reference", reference)
        us, cpu_share, actions = time_cell(prepared, budget, passes)
    except Unavailable as exc:
        return Cell(error=str(exc))
    except Exception as exc:
        lines = str(exc).splitlines()
        detail = " / ".join(line.strip() for line in lines[:3])[:300]
        return Cell(error=f"{type(exc).__name__}: {detail}")
    mismatches = sum(1 for got, want in zip(actions, expected, strict=False) if got != want)
    return Cell(us, cpu_share, len(actions), mismatches, prepared.setup_seconds, notes=prepared.notes)


def flatness_in_turns(columns: Sequence[Column], complaints: list[Complaint], workdir: Path, rounds: int) -> dict[str, float]:
    """Best µs per gesture-engine ``decide`` on the first table and each dead-rules table, timed in turns.

    The results table times its columns minutes apart, and a shared machine's speed drifts by more
    than the flatness targets allow; alternating the tables compares them at the same moments.
    """
    chosen = [columns[0], *(c for c in columns if c.key.startswith("dead"))]
    if len(chosen) < 2:
        return {}
    deciders = {c.key: _gesture_policy(c.table, complaints, workdir, {})[0].decide for c in chosen}
    best = dict.fromkeys(deciders, float("inf"))
    for _ in range(rounds):
        for key, decide in deciders.items():
            gc.collect()
            start = time.perf_counter()
            for complaint in complaints:
                decide(complaint)
            best[key] = min(best[key], (time.perf_counter() - start) / len(complaints) * 1e6)
    return best


def columns_for(sizes: Sequence[int], seed: int, dead: Sequence[int] = (1000,)) -> list[Column]:
    columns = [Column(str(size), f"{size:,} rules", generate_table(size, seed)) for size in sizes]
    for count in dead:
        columns.append(Column(f"dead{count}", f"{count:,} dead rules + {DEAD_LIVE}", dead_table(count, DEAD_LIVE, seed)))
    return columns


def check_oracle(column: Column, complaints: list[Complaint], reference: list[str]) -> None:
    """Check the if/elif reference against a plain reading of the table, and describe the hits."""
    sample = complaints[:ORACLE_SAMPLE]
    positions = []
    fallbacks = 0
    rows = column.table.rows
    for complaint, want in zip(sample, reference, strict=False):
        position = next((i for i, row in enumerate(rows) if row.matches(complaint)), None)
        got = column.table.default_action if position is None else rows[position].action
        column.oracle_mismatches += got != want
        fallbacks += position is None
        positions.append(len(rows) + 1 if position is None else position + 1)
    column.mean_position = sum(positions) / len(positions)
    column.fallback_share = fallbacks / len(sample)


def memory_probe(size: int, seed: int, workdir: Path, keys: Sequence[str]) -> dict[str, Any]:
    """Peak memory of loading the ``size``-rule table, each engine in a fresh interpreter."""
    results: dict[str, Any] = {}
    for key in keys:
        command = [sys.executable, "-m", "benchmarks.memprobe", key, str(size), str(seed), str(workdir)]
        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))}
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root, check=False)
        try:
            results[key] = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            results[key] = {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return results


def environment() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    versions = {engine.package: engine.version() or "not installed" for engine in ENGINES if engine.package}
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
    }


# -- report -------------------------------------------------------------------------------------


def _us(cell: Cell | None, inputs: int) -> str:
    if cell is None:
        return "—"
    if cell.us is None:
        return "n/a"
    text = f"{cell.us:,.1f}" if cell.us < 1000 else f"{cell.us:,.0f}"
    if cell.decided < inputs:
        text += "†"
    return text + " ∥" if cell.cpu_share > PARALLEL else text


def _ratio(a: Cell | None, b: Cell | None) -> str:
    if a is None or b is None or a.us is None or b.us is None:
        return "n/a"
    return f"{a.us / b.us:.2f}×"


def report(columns: list[Column], rows: list[tuple[Engine, dict[str, Cell]]], default_cell: Cell, inputs: int,
           memory: dict[str, Any], env: dict[str, str], elapsed: float, mode: str, flatness: dict[str, float] | None = None) -> str:
    out: list[str] = []
    add = out.append
    header = "| engine | " + " | ".join(f"µs/decision, {c.title}" if i == 0 else c.title for i, c in enumerate(columns)) + " |"
    rule = "|---|" + "---:|" * len(columns)
    add(f"## Results ({mode} mode, {inputs:,} complaints per cell)")
    add("")
    add(header)
    add(rule)
    for engine, cells in rows:
        add(f"| {engine.label} | " + " | ".join(_us(cells.get(c.key), inputs) for c in columns) + " |")
    blank = " | ".join("—" for _ in columns[1:])
    add(f"| {GestureDefaultPolicy.label} ‡ | {_us(default_cell, inputs)} | {blank} |")
    add("")
    add(f"† time budget reached: measured on fewer than {inputs:,} complaints (see the correctness table for how many).")
    add(f"∥ used more than one core: process CPU time was over {PARALLEL}× the wall time (µs are wall-clock per decision).")
    notes = default_cell.notes
    add(f"‡ the embedded default policy ({notes.get('rules', '?')} rules incl. add-ons, {notes.get('derived', '?')} derived facts), "
        "not the generated table; complaints without `region`.")
    add("")
    add("### Correctness: mismatches against the if/elif reference (checked / decided)")
    add("")
    add("| engine | " + " | ".join(c.title for c in columns) + " |")
    add(rule)
    for engine, cells in rows:
        add(f"| {engine.label} | " + " | ".join(_mismatch(cells.get(c.key)) for c in columns) + " |")
    add(f"| {GestureDefaultPolicy.label} (vs a hand-written mirror of rules/default) | {_mismatch(default_cell)} | {blank} |")
    add("")
    add("The if/elif reference itself, against a direct reading of the table on the first "
        f"{min(ORACLE_SAMPLE, inputs):,} complaints: " + ", ".join(f"{c.title}: {c.oracle_mismatches} mismatches" for c in columns) + ".")
    add("Rows tried per complaint (mean, incl. the default): " + ", ".join(f"{c.title}: {c.mean_position:,.0f}" for c in columns)
        + "; share falling through to the default: " + ", ".join(f"{c.title}: {c.fallback_share:.0%}" for c in columns) + ".")
    add("")
    errors = [(engine.label, cell.error) for engine, cells in rows for cell in cells.values() if cell.error]
    if default_cell.error:
        errors.append((GestureDefaultPolicy.label, default_cell.error))
    for label, error in dict.fromkeys(errors):
        add(f"- n/a — {label}: {error}")
    if errors:
        add("")

    by_key = dict((engine.key, cells) for engine, cells in rows)
    gesture, python = by_key.get("gesture", {}), by_key.get("python", {})
    add("### Ratios")
    add("")
    add("| ratio | " + " | ".join(c.title for c in columns) + " |")
    add(rule)
    zen_best = {c.key: _fastest(by_key.get("zen", {}).get(c.key), by_key.get("zen_batch", {}).get(c.key)) for c in columns}
    add("| gesture-engine `decide` ÷ ZEN fastest path (lower is better for gesture-engine) | "
        + " | ".join(_ratio(gesture.get(c.key), zen_best[c.key]) for c in columns) + " |")
    add("| gesture-engine `decide` ÷ if/elif (the gap to hand-written code) | "
        + " | ".join(_ratio(gesture.get(c.key), python.get(c.key)) for c in columns) + " |")
    add("| ZEN fastest path ÷ if/elif | " + " | ".join(_ratio(zen_best[c.key], python.get(c.key)) for c in columns) + " |")
    add("")
    add("### Setup: seconds from the written table to the first decision (translate/load/compile)")
    add("")
    add("| engine | " + " | ".join(c.title for c in columns) + " |")
    add(rule)
    for engine, cells in rows:
        add(f"| {engine.label} | " + " | ".join(_seconds(cells.get(c.key)) for c in columns) + " |")
    add("")
    add("### gesture-engine extras")
    add("")
    for c in columns:
        cell = gesture.get(c.key)
        many = by_key.get("gesture_many", {}).get(c.key)
        if cell is None or cell.us is None:
            continue
        load = cell.notes.get("load_seconds")
        size = cell.notes.get("yaml_bytes", 0)
        throughput = f"{1e6 / many.us:,.0f} decisions/s" if many is not None and many.us else "n/a"
        files = cell.notes.get("files", 1)
        add(f"- {c.title}: `load_policy` (read + YAML parse + schema validation + compile) {load:.3f} s for "
            f"{size / 1024:,.0f} KiB of YAML in {files} files; `decide_many` throughput {throughput}.")
    if flatness:
        titles = {c.key: c.title for c in columns}
        first, *dead = flatness
        add(f"- Flatness, timed in turns ({FLATNESS_ROUNDS} alternating passes over the same complaints, best of each): "
            f"{titles[first]} {flatness[first]:.2f} µs; "
            + "; ".join(f"{titles[key]} {flatness[key]:.2f} µs ({flatness[key] / flatness[first]:.2f}×)" for key in dead)
            + ". Targets: at most 1.5× with 1,000 dead rules, 2× with 10,000.")
    add("")
    if memory:
        add(f"### Peak memory of loading the {memory.get('size', 0):,}-rule table (fresh interpreter per engine)")
        add("")
        add("| engine | RSS before load, MiB | peak RSS after load + 1 decision, MiB | growth, MiB "
            "| Python heap: peak during load, MiB | Python heap: retained, MiB |")
        add("|---|---:|---:|---:|---:|---:|")
        for key, probe in memory.items():
            if key == "size":
                continue
            if "error" in probe:
                add(f"| {key} | n/a | n/a | n/a | n/a | {probe['error']} |")
                continue
            growth = probe["rss_after_mib"] - probe["rss_before_mib"]
            add(f"| {key} | {probe['rss_before_mib']:.1f} | {probe['rss_after_mib']:.1f} | {growth:.1f} "
                f"| {probe['tracemalloc_peak_mib']:.1f} | {probe['tracemalloc_retained_mib']:.1f} |")
        add("")
        add("RSS is /proc/self/status VmRSS before and VmHWM (high-water mark) after; the Python-heap columns come from "
            "tracemalloc on a second, traced load and do not see ZEN's Rust heap.")
        add("")
    add("### Environment")
    add("")
    for key, value in env.items():
        add(f"- {key}: {value}")
    add(f"- whole run: {elapsed:.0f} s wall clock; this process's peak RSS {_max_rss_mib():.0f} MiB")
    return "\n".join(out) + "\n"


def _fastest(*cells: Cell | None) -> Cell | None:
    timed = [c for c in cells if c is not None and c.us is not None]
    return min(timed, key=lambda c: c.us or 0.0) if timed else None


def _mismatch(cell: Cell | None) -> str:
    if cell is None:
        return "—"
    if cell.us is None:
        return "n/a"
    return f"{cell.mismatches} / {cell.decided:,}"


def _seconds(cell: Cell | None) -> str:
    if cell is None or cell.setup_seconds is None:
        return "n/a" if cell is not None else "—"
    return f"{cell.setup_seconds:.3f}"


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- command line -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="sizes 8/100/1,000, 1,000 complaints, 0.6 s per cell: under a minute")
    parser.add_argument("--sizes", help="comma-separated table sizes (default: 8,100,1000,10000; quick: 8,100,1000)")
    parser.add_argument("--inputs", type=int, help="complaints per cell (default 10,000; quick 1,000)")
    parser.add_argument("--budget", type=float, help="seconds per engine and column before a cell stops early (default 20; quick 0.6)")
    parser.add_argument("--engines", help="comma-separated engine keys to run: " + ",".join(e.key for e in ENGINES))
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated tables (complaints always use seed 42)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory with the generated policies")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    mode = QUICK if args.quick else FULL
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else mode.sizes
    count = args.inputs or mode.inputs
    budget = args.budget if args.budget is not None else mode.budget
    passes = mode.passes
    wanted = set(args.engines.split(",")) if args.engines else None
    unknown = sorted((wanted or set()) - {e.key for e in ENGINES})
    if unknown:
        print(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(e.key for e in ENGINES)}", file=sys.stderr)
        return 2
    engines = [e for e in ENGINES if wanted is None or e.key in wanted or e.key == "python"]
    started = time.perf_counter()
    complaints = generate_complaints(count)
    columns = columns_for(sizes, args.seed, mode.dead)
    workdir = Path(tempfile.mkdtemp(prefix="gesture-bench-"))
    rows: list[tuple[Engine, dict[str, Cell]]] = [(engine, {}) for engine in engines]
    try:
        for column in columns:
            print(f"… {column.title}", file=sys.stderr, flush=True)
            cache: dict[str, Any] = {}
            reference = engines[0].prepare(column.table, complaints, workdir, cache).run(complaints)
            check_oracle(column, complaints, reference)
            for engine, cells in rows:
                cells[column.key] = measure(engine, column.table, complaints, reference, workdir, cache, budget, passes)
                cell = cells[column.key]
                shown = "n/a" if cell.us is None else f"{cell.us:,.1f} µs ({cell.decided:,} decided, {cell.mismatches} mismatches)"
                print(f"    {engine.label}: {shown}", file=sys.stderr, flush=True)
            del cache
            gc.collect()
        default_cell = (
            measure(GestureDefaultPolicy(), columns[0].table, complaints, [], workdir, {}, budget, passes)
            if wanted is None or "gesture" in wanted else Cell(error="not selected")
        )
        flatness = (
            flatness_in_turns(columns, complaints, workdir, FLATNESS_ROUNDS) if wanted is None or "gesture" in wanted else {}
        )
        memory: dict[str, Any] = {}
        if not args.no_memory:
            print("… memory probes", file=sys.stderr, flush=True)
            size = max(sizes) if args.sizes else mode.memory_size
            memory = {"size": size, **memory_probe(size, args.seed, workdir, [e.key for e in engines if e.key not in ("gesture_many", "zen_batch")])}
        elapsed = time.perf_counter() - started
        text = report(columns, rows, default_cell, count, memory, environment(), elapsed, "quick" if args.quick else "full", flatness)
        print(text)
        if args.json:
            args.json.write_text(json.dumps(_raw(columns, rows, default_cell, memory, flatness), indent=2, default=str) + "\n", encoding="utf-8")
    finally:
        if args.keep:
            print(f"generated policies kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _raw(columns: list[Column], rows: list[tuple[Engine, dict[str, Cell]]], default_cell: Cell, memory: dict[str, Any],
         flatness: dict[str, float]) -> dict[str, Any]:
    return {
        "columns": [{"key": c.key, "title": c.title, "rows": len(c.table.rows), "mean_position": c.mean_position} for c in columns],
        "engines": {
            engine.key: {key: {"us": cell.us, "cpu_share": cell.cpu_share, "decided": cell.decided, "mismatches": cell.mismatches,
                               "setup_seconds": cell.setup_seconds, "error": cell.error, **cell.notes}
                         for key, cell in cells.items()}
            for engine, cells in rows
        },
        "gesture_default": {"us": default_cell.us, "decided": default_cell.decided, "mismatches": default_cell.mismatches},
        "memory": memory,
        "flatness_in_turns_us": flatness,
        "environment": environment(),
    }


if __name__ == "__main__":
    sys.exit(main())
