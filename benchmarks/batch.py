"""The batch benchmark: realistic complaints through ``gesture decide --batch --workers 2``.

``write_complaints`` makes the JSON Lines a helpdesk export would hold (ids, a received time, every
fact of the default policy, money to the cent); ``time_batch`` runs the command on it in a fresh
process and checks its output. ``python -m benchmarks.batch [--no-cache] ARGS...`` is the ``gesture``
command itself (the console script's ``main``), with the caches turned off first when asked: worker
processes are forked from it, so they inherit the setting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .engines import disable_caches
from .table import default_policy_complaints

BLOCK = 10_000
"""Complaints are drawn in blocks with their own seed; money never repeats within a block."""


def write_complaints(path: Path, count: int, seed: int = 1) -> int:
    """Write ``count`` default-policy complaints as JSON Lines; returns the bytes written."""
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for block, start in enumerate(range(0, count, BLOCK)):
            lines = []
            for offset, complaint in enumerate(default_policy_complaints(min(BLOCK, count - start), seed=seed * 1_000_003 + block)):
                number = start + offset
                second = number % 86_400
                lines.append(
                    f'{{"complaint_id":"c{number:08d}","customer_id":{100_000 + number % 77_777},'
                    f'"received_at":"2026-12-0{1 + number % 3}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z",'
                    + ",".join(f'"{name}":{_json(value)}' for name, value in complaint.items())
                    + "}\n"
                )
            written += out.write("".join(lines))
    return written


def _json(value: object) -> str:
    return str(value) if isinstance(value, Decimal | int) else json.dumps(value)


@dataclass(frozen=True)
class BatchRun:
    seconds: float
    lines: int
    errors: int
    checked: int
    mismatches: int
    out_bytes: int


def time_batch(inputs: Path, out: Path, workers: int = 2, no_cache: bool = False, check: int = 1000) -> BatchRun:
    """Run ``gesture decide --batch`` on ``inputs`` (default policy) and time it, wall clock.

    Checks that every complaint got a decision line and that the first ``check`` ones give the same
    action and budget as ``decide`` in this process.
    """
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), str(root / "cli"), os.environ.get("PYTHONPATH", "")]))}
    command = [sys.executable, "-m", "benchmarks.batch", *(["--no-cache"] if no_cache else []),
               "decide", "--batch", str(inputs), "--out", str(out), "--workers", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"gesture decide --batch exited {done.returncode}: {done.stderr.strip()[-300:]}")
    lines = errors = checked = wrong = 0
    from gesture_engine import load_policy

    policy = load_policy()
    with inputs.open("rb") as source, out.open("rb") as result:
        for complaint_line, decision_line in zip(source, result, strict=False):
            lines += 1
            if decision_line.startswith(b'{"line"'):  # an error record stands in for the decision
                errors += 1
            elif checked < check:
                checked += 1
                decision = json.loads(decision_line)
                expected = policy.decide(json.loads(complaint_line, parse_float=Decimal))
                wrong += (decision["action"], Decimal(str(decision["budget"]["amount"]))) != (expected.action, Decimal(expected.budget.amount))
        lines += sum(1 for _ in result)  # decision lines beyond the input (there should be none)
    return BatchRun(seconds, lines, errors, checked, wrong, out.stat().st_size)


def main(argv: list[str]) -> None:
    """``gesture ARGS`` after turning the caches off when ``--no-cache`` comes first."""
    if argv[:1] == ["--no-cache"]:
        argv = argv[1:]
        print(f"caches disabled: {', '.join(disable_caches()) or 'none found'}", file=sys.stderr)
    from gesture_cli import main as gesture

    sys.argv = ["gesture", *argv]
    gesture()


if __name__ == "__main__":
    main(sys.argv[1:])
