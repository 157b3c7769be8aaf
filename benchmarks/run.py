"""Run the benchmarks and print one Markdown report: ``python -m benchmarks [--quick] [--no-cache] [--only NAME]``.

Sections (``--only`` picks some, comma-separated):

- ``table8``: the 8-row first-hit table with budgets in gesture-engine and ZEN, answers cross-checked
  (action and budget to the cent) against each other and a plain reading of the table;
- ``default``: the embedded default policy on a helpdesk's mix of complaints and on the high/critical
  ones alone, with varied and with fixed money, against ZEN's fastest path on the 8-row table;
- ``flatness``: the 8-row table behind 1,000 and 10,000 rules that never match;
- ``memory``: what loading a 10,000-rule table keeps, gesture-engine vs ZEN, each in a fresh interpreter;
- ``batch``: 1,000,000 complaints through ``gesture decide --batch --workers 2``.

Contestants within a section are timed in turns (see ``timing.py``); every figure is the median pass.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from . import batch as batch_bench
from .engines import Unavailable, Zen, decide_pass, disable_caches, gesture_answers, load_gesture, mismatches
from .table import (
    Complaint,
    dead_table,
    default_policy_action,
    default_policy_complaints,
    generate_complaints,
    generate_table,
    with_fixed_money,
)
from .timing import Timing, in_turns

SECTIONS = ("table8", "default", "flatness", "memory", "batch")


@dataclass(frozen=True)
class Mode:
    """Sizes of a run: the quick one only shows that everything runs and agrees."""

    name: str
    complaints: int
    """Complaints per timed pass; each pass gets its own set."""
    rounds: int
    dead: tuple[int, int]
    memory_rows: int
    batch: int


FULL = Mode("full", complaints=10_000, rounds=7, dead=(1_000, 10_000), memory_rows=10_000, batch=1_000_000)
QUICK = Mode("quick", complaints=200, rounds=1, dead=(20, 200), memory_rows=200, batch=2_000)


@dataclass(frozen=True)
class Line:
    """One row of the report: a measure, its figure and, where the issue sets one, the target."""

    measure: str
    figure: str
    target: str = ""
    met: bool | None = None
    timed: bool = True
    """A figure of time or memory: quick mode's sizes are too small to judge it against its target."""


def _sets(complaints: list[Complaint], rounds: int) -> list[list[Complaint]]:
    """``rounds + 1`` equal sets (the last one warms up): no timed pass repeats a complaint."""
    size = len(complaints) // (rounds + 1)
    return [complaints[i * size: (i + 1) * size] for i in range(rounds + 1)]


def _ratio(measure: str, numerator: Timing | None, denominator: Timing | None, limit: float | None) -> Line:
    if numerator is None or denominator is None:
        return Line(measure, "n/a", f"≤ {limit:g}×" if limit else "")
    ratio = numerator.median / denominator.median
    return Line(measure, f"{ratio:.2f}×", f"≤ {limit:g}×" if limit else "", None if limit is None else ratio <= limit)


def _zero(measure: str, wrong: int | None, checked: int) -> Line:
    if wrong is None:
        return Line(measure, "n/a", "0", timed=False)
    return Line(measure, f"{wrong} of {checked:,}", "0", wrong == 0, timed=False)


def _fastest(*timings: Timing | None) -> Timing | None:
    known = [t for t in timings if t is not None]
    return min(known, key=lambda t: t.median) if known else None


def _zen_or_reason(table: Any, first: Complaint, notes: list[str]) -> Zen | None:
    try:
        return Zen(table, first)
    except Unavailable as exc:
        notes.append(f"ZEN n/a: {exc}")
        return None


# -- sections -------------------------------------------------------------------------------------


def table8(mode: Mode, workdir: Path, notes: list[str]) -> list[Line]:
    """8 rows with percent-of-money budgets: speed, and answers cross-checked to the cent."""
    table = generate_table(8)
    sets = _sets(generate_complaints(mode.complaints * (mode.rounds + 1)), mode.rounds)
    policy = load_gesture(table, workdir).policy
    zen = _zen_or_reason(table, sets[0][0], notes)
    everything = [c for s in sets for c in s]
    oracle = [table.decide(c) for c in everything]
    gesture = gesture_answers(policy, everything)
    zen_answers = zen.answers(everything) if zen else None
    contestants = {"decide": decide_pass(policy, sets), "decide_json": decide_pass(policy, sets, "decide_json")}
    if zen:
        contestants |= {"zen": zen.evaluate_pass(sets), "zen_batch": zen.batch_pass(sets)}
    times: dict[str, Timing | None] = {"zen": None, "zen_batch": None, **in_turns(contestants, mode.rounds)}
    zen_best = _fastest(times["zen"], times["zen_batch"])
    n = len(everything)
    return [
        Line("8-row table: `decide`", str(times["decide"])),
        Line("8-row table: `decide_json`", str(times["decide_json"])),
        Line("8-row table: ZEN `evaluate`", str(times["zen"] or "n/a")),
        Line("8-row table: ZEN `evaluate_batch`, per complaint", str(times["zen_batch"] or "n/a")),
        _ratio("8-row table: `decide` ÷ ZEN fastest path", times["decide"], zen_best, 0.5),
        _zero("8-row table: answers (action, budget) gesture-engine ≠ ZEN", None if zen_answers is None else mismatches(gesture, zen_answers), n),
        _zero("8-row table: answers gesture-engine ≠ plain reading of the table", mismatches(gesture, oracle), n),
        _zero("8-row table: answers ZEN ≠ plain reading of the table", None if zen_answers is None else mismatches(zen_answers, oracle), n),
    ]


def default_policy(mode: Mode, workdir: Path, notes: list[str]) -> list[Line]:
    """The embedded default policy on realistic complaints, varied vs fixed money, vs ZEN on 8 rows."""
    from gesture_engine import load_policy

    policy = load_policy()
    count = mode.complaints * (mode.rounds + 1)
    mix = _sets(default_policy_complaints(count, seed=43), mode.rounds)
    serious = _sets(default_policy_complaints(count, seed=44, serious_only=True), mode.rounds)
    table = generate_table(8)
    zen_sets = _sets(generate_complaints(count), mode.rounds)
    zen = _zen_or_reason(table, zen_sets[0][0], notes)
    checked = [c for s in (*mix, *serious) for c in s]
    wrong = sum(policy.decide(c).action != default_policy_action(c) for c in checked)
    contestants = {
        "mix": decide_pass(policy, mix),
        "mix fixed": decide_pass(policy, [with_fixed_money(s) for s in mix]),
        "serious": decide_pass(policy, serious),
        "serious fixed": decide_pass(policy, [with_fixed_money(s) for s in serious]),
        "mix json": decide_pass(policy, mix, "decide_json"),
        "mix json fixed": decide_pass(policy, [with_fixed_money(s) for s in mix], "decide_json"),
        "serious json": decide_pass(policy, serious, "decide_json"),
    }
    if zen:
        contestants |= {"zen": zen.evaluate_pass(zen_sets), "zen_batch": zen.batch_pass(zen_sets)}
    times: dict[str, Timing | None] = {"zen": None, "zen_batch": None, **in_turns(contestants, mode.rounds)}
    zen_best = _fastest(times["zen"], times["zen_batch"])
    return [
        Line("default policy, whole mix: `decide`, money to the cent", str(times["mix"])),
        Line("default policy, whole mix: `decide`, fixed money", str(times["mix fixed"])),
        Line("default policy, whole mix: `decide_json`, money to the cent", str(times["mix json"])),
        Line("default policy, whole mix: `decide_json`, fixed money", str(times["mix json fixed"])),
        Line("default policy, high/critical: `decide`, money to the cent", str(times["serious"])),
        Line("default policy, high/critical: `decide`, fixed money", str(times["serious fixed"])),
        Line("default policy, high/critical: `decide_json`, money to the cent", str(times["serious json"])),
        Line("ZEN fastest path on the 8-row table (same turns)", str(zen_best or "n/a")),
        _ratio("default policy, whole mix: varied ÷ fixed money (`decide`)", times["mix"], times["mix fixed"], 1.2),
        _ratio("default policy, high/critical: varied ÷ fixed money (`decide`)", times["serious"], times["serious fixed"], 1.2),
        _ratio("default policy, whole mix: `decide` ÷ ZEN fastest path", times["mix"], zen_best, 1.0),
        _ratio("default policy, high/critical: `decide` ÷ ZEN fastest path", times["serious"], zen_best, 1.0),
        _zero("default policy: actions ≠ a hand-written mirror of rules/default", wrong, len(checked)),
    ]


FLATNESS_TARGETS = (1.5, 2.0)


def flatness(mode: Mode, workdir: Path, notes: list[str]) -> list[Line]:
    """The 8-row table alone and behind rules that never match, timed in turns on the same complaints."""
    tables = {"8": generate_table(8), **{str(dead): dead_table(dead, 8) for dead in mode.dead}}
    loaded = {key: load_gesture(table, workdir) for key, table in tables.items()}
    sets = _sets(generate_complaints(mode.complaints * (mode.rounds + 1), seed=45), mode.rounds)
    sample = sets[0][:200]  # the plain reading scans every dead row: slow, so a sample
    wrong = sum(mismatches(gesture_answers(loaded[key].policy, sample), [tables[key].decide(c) for c in sample]) for key in tables)
    times = in_turns({key: decide_pass(item.policy, sets) for key, item in loaded.items()}, mode.rounds)
    lines = [Line("flatness: 8-row table, `decide`", str(times["8"]))]
    for dead, target in zip(mode.dead, FLATNESS_TARGETS, strict=True):
        lines.append(Line(f"flatness: {dead:,} dead rules + 8, `decide`", str(times[str(dead)])))
        lines.append(_ratio(f"flatness: {dead:,} dead rules + 8 ÷ 8 rules", times[str(dead)], times["8"], target))
    biggest = mode.dead[-1]
    lines.append(Line(f"flatness: `load_policy` of {biggest:,} dead rules + 8", f"{loaded[str(biggest)].seconds:.2f} s "
                      f"({loaded[str(biggest)].yaml_bytes / 2**20:.1f} MiB of YAML)"))
    lines.append(_zero("flatness: answers ≠ plain reading of the tables", wrong, len(sample) * len(tables)))
    return lines


def _probe(engine: str, rows: int, workdir: Path, no_cache: bool) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "benchmarks.memprobe", engine, str(rows), "7", str(workdir), *(["--no-cache"] if no_cache else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def memory(mode: Mode, workdir: Path, notes: list[str], no_cache: bool = False) -> list[Line]:
    """Memory kept after loading the same big table, each engine in a fresh interpreter."""
    rows = mode.memory_rows
    gesture, zen = _probe("gesture", rows, workdir, no_cache), _probe("zen", rows, workdir, no_cache)
    for name, probe in (("gesture-engine", gesture), ("ZEN", zen)):
        if "error" in probe:
            notes.append(f"memory probe of {name} failed: {probe['error']}")

    def mib(probe: dict[str, Any]) -> str:
        if "error" in probe:
            return "n/a"
        return (f"{probe['rss_retained_mib']:.1f} MiB RSS (peak +{probe['rss_peak_growth_mib']:.1f}; "
                f"Python heap {probe['python_heap_retained_mib']:.1f})")

    lines = [
        Line(f"memory, {rows:,}-row table: gesture-engine keeps", mib(gesture)),
        Line(f"memory, {rows:,}-row table: ZEN keeps", mib(zen)),
    ]
    if "error" in gesture or "error" in zen:
        lines.append(Line(f"memory, {rows:,}-row table: gesture-engine ÷ ZEN (RSS kept)", "n/a", "≤ 1×"))
    else:
        ratio = gesture["rss_retained_mib"] / max(zen["rss_retained_mib"], 0.1)
        lines.append(Line(f"memory, {rows:,}-row table: gesture-engine ÷ ZEN (RSS kept)", f"{ratio:.2f}×", "≤ 1×", ratio <= 1.0))
    if "error" not in gesture:
        seconds = gesture["load_seconds"]
        lines.append(Line(f"memory, {rows:,}-row table: gesture-engine `load_policy`", f"{seconds:.2f} s", "≤ 2 s", seconds <= 2.0))
    return lines


def batch(mode: Mode, workdir: Path, notes: list[str], no_cache: bool = False) -> list[Line]:
    """``gesture decide --batch --workers 2`` on realistic complaints, wall clock from start to exit."""
    inputs, out = workdir / "complaints.jsonl", workdir / "decisions.jsonl"
    start = time.perf_counter()
    size = batch_bench.write_complaints(inputs, mode.batch)
    notes.append(f"batch input: {mode.batch:,} complaints, {size / 2**20:,.0f} MiB of JSON Lines, made in {time.perf_counter() - start:.1f} s")
    run = batch_bench.time_batch(inputs, out, workers=2, no_cache=no_cache)
    out.unlink()
    target = 20.0 * mode.batch / 1_000_000
    return [
        Line(f"batch: {mode.batch:,} complaints, `gesture decide --batch --workers 2`", f"{run.seconds:.1f} s "
             f"({mode.batch / run.seconds:,.0f}/s, {run.out_bytes / 2**20:,.0f} MiB out)", f"≤ {target:g} s", run.seconds <= target),
        _zero("batch: complaints without a decision line", run.errors + abs(run.lines - mode.batch), mode.batch),
        _zero("batch: decision lines ≠ `decide` (action, budget)", run.mismatches, run.checked),
    ]


RUNNERS: dict[str, Callable[..., list[Line]]] = {
    "table8": table8, "default": default_policy, "flatness": flatness, "memory": memory, "batch": batch,
}


# -- report ---------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "unknown"

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False,
                            cwd=Path(__file__).resolve().parent).stdout.strip()
    return {
        "cpu": cpu,
        "cores (nproc)": str(os.cpu_count()),
        "load average at the end (1, 5, 15 min)": load,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "zen-engine": installed("zen-engine"),
        "gesture-engine commit": commit or "unknown",
    }


def report(mode: Mode, lines: list[Line], knobs: list[str] | None, notes: list[str], seconds: float) -> str:
    """The Markdown report: one table of figures and targets, then the notes and the machine."""
    caches = "caches on" if knobs is None else f"caches off: {', '.join(knobs) or 'no cache size attributes found, so caches stayed on'}"
    out = [f"## Results ({mode.name} mode, {caches})", "", "| measure | figure | target | met |", "|---|---:|---:|:---:|"]
    for line in lines:
        judged = line.met is not None and not (line.timed and mode.name == "quick")
        met = ("yes" if line.met else "**no**") if judged else ""
        out.append(f"| {line.measure} | {line.figure} | {line.target} | {met} |")
    out.append("")
    out.append(f"Times are µs per decision: the median of {mode.rounds} passes of {mode.complaints:,} complaints each "
               "(fastest–slowest pass in brackets), contestants of a section timed in turns.")
    out += ["", *(f"- {note}" for note in notes)] if notes else []
    out += ["", "Machine:", "", *(f"- {key}: {value}" for key, value in machine().items()), f"- whole run: {seconds:.0f} s"]
    return "\n".join(out) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: shows everything runs and agrees; its times mean nothing")
    parser.add_argument("--no-cache", action="store_true", help="set gesture-engine's cache sizes to 0 before loading (where they exist)")
    parser.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    parser.add_argument("--batch", type=int, help="complaints in the batch section (default 1,000,000; quick 2,000)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    mode = QUICK if args.quick else FULL
    if args.batch:
        mode = dataclasses.replace(mode, batch=args.batch)
    chosen = tuple(args.only.split(",")) if args.only else SECTIONS
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        print(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    knobs = disable_caches() if args.no_cache else None
    if knobs is not None:
        print(f"caches disabled: {', '.join(knobs) or 'none found'}", file=sys.stderr)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="gesture-bench-"))
    lines: list[Line] = []
    notes: list[str] = []
    try:
        for name in SECTIONS:
            if name not in chosen:
                continue
            print(f"… {name}", file=sys.stderr, flush=True)
            extra = {"no_cache": args.no_cache} if name in ("memory", "batch") else {}
            section = RUNNERS[name](mode, workdir, notes, **extra)
            for line in section:
                print(f"    {line.measure}: {line.figure}", file=sys.stderr, flush=True)
            lines += section
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(report(mode, lines, knobs, notes, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
